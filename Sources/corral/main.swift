// The executable only parses arguments, calls one library entry point and
// prints; everything else lives in the libraries.
import Foundation
import Launcher

// A boot's kernel helper starts loading and setting up now, beside the
// parse (EarlyKernelHelper); the boot takes it once it is planned.
EarlyKernelHelper.start(arguments: CommandLine.arguments, environment: ProcessInfo.processInfo.environment)
CorralCommand.main()
