import Dispatch
import Foundation

/// Ends the process if a clean shutdown gets stuck. nng 1.5.2's `nng_close` has been seen to
/// hang (notes/nng.md §2), so once SIGTERM or SIGINT arrives, the process gets `grace` to
/// exit by itself; after that it is ended with `_exit`. Works beside ServiceLifecycle, which
/// handles the same signals for the graceful path.
public enum ShutdownWatchdog {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    public static func install(grace: Duration = .seconds(10)) {
        for sig in [SIGTERM, SIGINT] {
            // Dispatch delivers a signal to a source only while its default action is off;
            // ServiceLifecycle turns it off for the same signals anyway.
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
                let thread = Thread {
                    Thread.sleep(forTimeInterval: seconds)
                    FileHandle.standardError.write(Data("shutdown watchdog: still running \(seconds) s after signal \(sig); exiting\n".utf8))
                    _exit(3)
                }
                thread.start()
            }
            source.resume()
            sources.append(source)
        }
    }
}
