import CorralHelper
import CorralSystem

// The kernel helper `corral boot` spawns (KernelExec): its own executable so
// that it loads fast, beside the launcher's preflight. Run by hand, it says
// so in one line.
KernelExec.run(toPerson: { Output.writeAll(2, "corral: \($0)\n") })
