// The lab's pod sandbox process (what registry.k8s.io/pause is): a static binary that holds a
// pod's namespaces open and reaps orphaned children until it is told to stop.
module lab.local/toolchain/pause

go 1.26
