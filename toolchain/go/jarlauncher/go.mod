// The account-service image's `authctl` command: a static binary that runs the image's jar on the
// image's Java runtime (images have no shell for bin/authctl's script).
module lab.local/toolchain/jarlauncher

go 1.26
