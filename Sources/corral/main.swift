// The executable only parses arguments, calls one library entry point and
// prints; everything else lives in the libraries.
CorralCommand.main()
