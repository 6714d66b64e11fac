import Crypto
import Foundation

/// The keys of one participant in one SecAgg+ round and what is derived from them: two X25519
/// pairs (raw 32-byte public keys) — `masking` for the pairwise masks, `sharing` for encrypting
/// share bundles — as Octomil's clients use them. Derived keys are HKDF-SHA256 (empty salt) of
/// the X25519 shared secret, 32 bytes, with info `tributary-secagg-mask` or
/// `tributary-secagg-share`.
public struct ParticipantKeys: Sendable {
    public let masking: Curve25519.KeyAgreement.PrivateKey
    public let sharing: Curve25519.KeyAgreement.PrivateKey

    public init() {
        masking = .init()
        sharing = .init()
    }

    public var maskingPublic: [UInt8] { [UInt8](masking.publicKey.rawRepresentation) }
    public var sharingPublic: [UInt8] { [UInt8](sharing.publicKey.rawRepresentation) }

    /// The seed of the pairwise mask between the holder of `privateKey` and `peer`.
    public static func pairwiseSeed(_ privateKey: Curve25519.KeyAgreement.PrivateKey, peer: [UInt8]) throws(SecAggError) -> [UInt8] {
        try derive(privateKey, peer: peer, info: "tributary-secagg-mask")
    }

    static func derive(_ privateKey: Curve25519.KeyAgreement.PrivateKey, peer: [UInt8], info: String) throws(SecAggError) -> [UInt8] {
        do {
            let secret = try privateKey.sharedSecretFromKeyAgreement(with: .init(rawRepresentation: peer))
            let key = secret.hkdfDerivedSymmetricKey(using: SHA256.self, salt: Data(), sharedInfo: Data(info.utf8), outputByteCount: 32)
            return key.withUnsafeBytes { [UInt8]($0) }
        } catch {
            throw SecAggError(.invalid, "not a valid X25519 public key")
        }
    }
}

/// Share bundles: AES-256-GCM under the sharing key of sender and recipient, as
/// `nonce (12) ‖ ciphertext ‖ tag (16)`, with the additional data
/// `tributary-secagg|ROUND|FROM|TO` so the server cannot move a bundle to another round,
/// sender or recipient. Plaintext: the masking-seed share then the masking-key share (52 bytes each).
public enum ShareBundle {
    static func associatedData(round: String, from: String, to: String) -> Data {
        Data("tributary-secagg|\(round)|\(from)|\(to)".utf8)
    }

    public static func seal(seedShare: [UInt8], keyShare: [UInt8], sender: Curve25519.KeyAgreement.PrivateKey, recipient: [UInt8],
                            round: String, from: String, to: String) throws(SecAggError) -> [UInt8] {
        let key = SymmetricKey(data: try ParticipantKeys.derive(sender, peer: recipient, info: "tributary-secagg-share"))
        do {
            let box = try AES.GCM.seal(seedShare + keyShare, using: key, authenticating: associatedData(round: round, from: from, to: to))
            return [UInt8](box.combined!)
        } catch {
            throw SecAggError(.failed, "sealing a share bundle failed: \(error)")
        }
    }

    /// The two shares of a bundle; throws when it does not decrypt for this sender, recipient and round.
    public static func open(_ bundle: [UInt8], recipient: Curve25519.KeyAgreement.PrivateKey, sender: [UInt8],
                            round: String, from: String, to: String) throws(SecAggError) -> (seedShare: [UInt8], keyShare: [UInt8]) {
        let key = SymmetricKey(data: try ParticipantKeys.derive(recipient, peer: sender, info: "tributary-secagg-share"))
        let plain: Data
        do {
            plain = try AES.GCM.open(try AES.GCM.SealedBox(combined: bundle), using: key, authenticating: associatedData(round: round, from: from, to: to))
        } catch {
            throw SecAggError(.invalid, "the share bundle from \(from) does not decrypt")
        }
        guard plain.count == 2 * Shamir.shareLength else { throw SecAggError(.invalid, "the share bundle from \(from) has \(plain.count) bytes") }
        let bytes = [UInt8](plain)
        return (Array(bytes[0..<Shamir.shareLength]), Array(bytes[Shamir.shareLength...]))
    }
}
