import Foundation
import Synchronization

/// What a peer presents on every nng request (the frame's `auth`): a token the controller
/// signed, or a proof of its certificate (`CertificateProof`) that is re-minted before it
/// expires. Reading it never waits, so frames are encoded synchronously.
public final class PeerCredential: Sendable {
    private let current: Mutex<String?>
    private let refresher: Mutex<Task<Void, Never>?> = Mutex(nil)

    /// A fixed token (nil: present nothing, until ``present(_:lifetime:)``).
    public init(token: String?) {
        current = Mutex(token)
    }

    deinit {
        refresher.withLock { $0?.cancel() }
    }

    /// Presents proofs of `identity`'s certificate from now on, each valid for `lifetime` and
    /// replaced at half of it. Throws when the certificate or key cannot sign one.
    public func present(_ identity: TLSIdentity, lifetime: Duration = .seconds(600)) async throws {
        let first = try await CertificateProof.mint(identity, lifetime: lifetime)
        current.withLock { $0 = first }
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: lifetime / 2)
                // A failed re-mint keeps the old proof, which is still valid for half its lifetime.
                guard let proof = try? await CertificateProof.mint(identity, lifetime: lifetime) else { continue }
                guard let self else { return }
                self.current.withLock { $0 = proof }
            }
        }
        refresher.withLock { old in
            old?.cancel()
            old = task
        }
    }

    /// A credential presenting `identity`'s certificate.
    public static func certificate(_ identity: TLSIdentity, lifetime: Duration = .seconds(600)) async throws -> PeerCredential {
        let credential = PeerCredential(token: nil)
        try await credential.present(identity, lifetime: lifetime)
        return credential
    }

    /// The token or proof to send now.
    public var value: String? { current.withLock { $0 } }
}
