package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// `placeholder-pod __container-init WORKDIR ARGV...` runs as PID 1 of a fresh PID + mount
// namespace (the agent clones it with CLONE_NEWPID|CLONE_NEWNS): it gives the namespace its
// own /proc, enters the working directory and execs the container's command, which thereby
// becomes PID 1 of the simulated container. fd 3 is a pipe to the agent, closed on a
// successful exec; on failure the reason is written to it (and to stderr).

const initSubcommand = "__container-init"

func containerInit(args []string) int {
	report := os.NewFile(3, "report")
	fail := func(code int, format string, a ...any) int {
		msg := fmt.Sprintf(format, a...)
		fmt.Fprintln(os.Stderr, msg)
		if report != nil {
			report.WriteString(msg)
		}
		return code
	}
	syscall.CloseOnExec(3)
	if len(args) < 2 {
		return fail(2, "usage: placeholder-pod %s WORKDIR ARGV...", initSubcommand)
	}
	workDir, argv := args[0], args[1:]
	// Private propagation first, or the new /proc would show up in the agent's namespace.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fail(126, "peervm: making mounts private: %v", err)
	}
	if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fail(126, "peervm: mounting /proc: %v", err)
	}
	if workDir != "" {
		if err := os.MkdirAll(workDir, 0o755); err != nil {
			return fail(126, "peervm: working directory %s: %v", workDir, err)
		}
		if err := os.Chdir(workDir); err != nil {
			return fail(126, "peervm: working directory %s: %v", workDir, err)
		}
	}
	path, err := exec.LookPath(argv[0]) // with the container's PATH: this process has its env
	if err != nil {
		return fail(127, "peervm: exec %q: %v", argv[0], err)
	}
	err = syscall.Exec(path, argv, os.Environ())
	code := 126
	if err == syscall.ENOENT {
		code = 127
	}
	return fail(code, "peervm: exec %q: %v", path, err)
}
