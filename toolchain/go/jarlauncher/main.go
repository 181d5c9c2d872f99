// Command jarlauncher execs <dir>/java/bin/java -jar <dir>/app/<name>.jar with its own arguments,
// where <dir> is the parent of the directory holding the launcher and <name> the launcher's name
// (/usr/local/bin/authctl runs /usr/local/app/authctl.jar on /usr/local/java).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

func main() {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "jarlauncher:", err)
		os.Exit(127)
	}
	prefix := filepath.Dir(filepath.Dir(self))
	name := filepath.Base(os.Args[0])
	java := filepath.Join(prefix, "java", "bin", "java")
	args := append([]string{java, "-jar", filepath.Join(prefix, "app", name+".jar")}, os.Args[1:]...)
	err = syscall.Exec(java, args, os.Environ())
	fmt.Fprintln(os.Stderr, "jarlauncher: exec", java+":", err)
	os.Exit(127)
}
