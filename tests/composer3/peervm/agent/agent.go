package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const xcomSidecar = "airflow-xcom-sidecar"

type container struct {
	idx  int
	spec ContainerSpec
	logs *LogStore
	pid  int
}

type Agent struct {
	mu         sync.Mutex // guards st
	st         AgentState
	containers []*container
	byName     map[string]*container

	reapMu  sync.Mutex // held around fork+register and around wait4, so no exit is missed
	waiters map[int]chan syscall.WaitStatus

	outMu sync.Mutex // the agent's own stdout (the placeholder container's log)
	stop  chan struct{}
	done  sync.WaitGroup
}

func envSeconds(name string, def float64) time.Duration {
	return time.Duration(envFloat(name, def) * float64(time.Second))
}

func envFloat(name string, def float64) float64 {
	if v := os.Getenv(name); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
			return f
		}
	}
	return def
}

func (a *Agent) logf(format string, args ...any) {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	fmt.Fprintf(os.Stdout, "%s peervm: %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

func terminationLogPath() string {
	if p := os.Getenv("PEERVM_TERMINATION_LOG"); p != "" {
		return p
	}
	return "/dev/termination-log"
}

func writeTermination(msg string) {
	_ = os.WriteFile(terminationLogPath(), []byte(msg), 0o644)
}

// vmCreationFailed: the VM cannot be created. Like a GCE create that fails after a while,
// it takes ~2 s and never opens the HTTP port.
func vmCreationFailed(reason string) int {
	fmt.Fprintf(os.Stdout, "%s peervm: %s\n", time.Now().UTC().Format(time.RFC3339), reason)
	time.Sleep(envSeconds("PEERVM_CREATE_FAIL_SECONDS", 2))
	writeTermination(reason)
	return 1
}

func runAgent() int {
	vm, err := ParseGCEVM(os.Getenv("PEERVM_GCE_VM"))
	if err != nil {
		return vmCreationFailed(err.Error())
	}
	if err := CheckQuota(vm, envFloat("PEERVM_CPU_QUOTA", DefaultCPUQuota)); err != nil {
		return vmCreationFailed(err.Error())
	}
	specs, err := ParseSpec(os.Getenv("PEERVM_SPEC"))
	if err != nil {
		return vmCreationFailed("cannot create VM: " + err.Error())
	}
	a := &Agent{
		byName:  map[string]*container{},
		waiters: map[int]chan syscall.WaitStatus{},
		stop:    make(chan struct{}),
		st:      AgentState{VM: vm.MachineType, Phase: "booting"},
	}
	environ := os.Environ()
	for i, s := range specs {
		c := &container{idx: i, spec: s, logs: NewLogStore()}
		name := s.Name
		c.logs.echo = func(line string) {
			a.outMu.Lock()
			fmt.Fprintf(os.Stdout, "[%s] %s\n", name, line)
			a.outMu.Unlock()
		}
		a.containers = append(a.containers, c)
		a.byName[s.Name] = c
		wd := s.WorkingDir
		if wd == "" {
			wd = "/"
		}
		a.st.Containers = append(a.st.Containers, ContainerState{
			Name: s.Name, State: StateWaiting, Env: ContainerEnv(environ, i), WorkingDir: wd,
		})
	}
	if err := os.RemoveAll(stateDir()); err != nil {
		a.logf("warning: %v", err)
	}
	a.saveState()

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go a.reapLoop()
	go func() {
		sig := <-signals
		a.logf("got %v: stopping the VM", sig)
		close(a.stop)
	}()

	boot := envSeconds("PEERVM_BOOT_SECONDS", 2)
	a.logf("creating VM %s; booting for %v", vm, boot)
	select {
	case <-time.After(boot):
	case <-a.stop:
		writeTermination("VM deleted while booting")
		return 1
	}

	ln, err := net.Listen("tcp", listenAddr())
	if err != nil {
		writeTermination(fmt.Sprintf("peer VM agent cannot listen on %s: %v", listenAddr(), err))
		a.logf("listen: %v", err)
		return 1
	}
	a.mu.Lock()
	a.st.Phase = "running"
	a.mu.Unlock()
	for _, c := range a.containers {
		a.start(c)
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.logf("http: %v", err)
		}
	}()
	a.logf("VM ready: serving logs on %s", ln.Addr())

	allDone := make(chan struct{})
	go func() { a.done.Wait(); close(allDone) }()
	select {
	case <-allDone:
		grace := envSeconds("PEERVM_SHUTDOWN_GRACE_SECONDS", 30)
		a.setPhase("shutting-down")
		a.logf("every container terminated; VM shuts down in %v", grace)
		select {
		case <-time.After(grace):
		case <-a.stop:
		}
	case <-a.stop:
		a.setPhase("shutting-down")
		a.killAll(envSeconds("PEERVM_KILL_GRACE_SECONDS", 5), allDone)
	}
	_ = srv.Close()

	code, msg := a.verdict()
	if msg != "" {
		writeTermination(msg)
	}
	a.logf("VM deleted (exit %d)%s", code, map[bool]string{true: ": " + msg, false: ""}[msg != ""])
	return code
}

func listenAddr() string {
	if l := os.Getenv("PEERVM_LISTEN"); l != "" {
		return l
	}
	return ":9080"
}

func (a *Agent) saveState() {
	if err := writeState(&a.st); err != nil {
		a.logf("writing state: %v", err)
	}
}

func (a *Agent) setPhase(p string) {
	a.mu.Lock()
	a.st.Phase = p
	a.saveState()
	a.mu.Unlock()
}

func (a *Agent) update(c *container, f func(*ContainerState)) {
	a.mu.Lock()
	f(&a.st.Containers[c.idx])
	a.saveState()
	a.mu.Unlock()
}

func exitCodeOf(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 255
}

// start runs one container: PID 1 of a new PID + mount namespace (see initproc.go).
func (a *Agent) start(c *container) {
	a.done.Add(1)
	terminate := func(code int, reason string) {
		now := time.Now().UTC().Format(time.RFC3339Nano)
		a.update(c, func(s *ContainerState) {
			s.State, s.ExitCode, s.Reason, s.PID, s.FinishedAt = StateTerminated, &code, reason, 0, now
		})
		a.logf("container %s terminated: exit code %d%s", c.spec.Name, code, map[bool]string{true: " (" + reason + ")", false: ""}[reason != ""])
		a.done.Done()
	}
	a.mu.Lock()
	cs := a.st.Containers[c.idx]
	a.mu.Unlock()
	argv, err := c.spec.Argv()
	if err != nil {
		c.logs.Add("stderr", false, "peervm: "+err.Error())
		terminate(127, "NoCommand")
		return
	}
	argv = expandArgv(argv, cs.Env)

	fail := func(err error) {
		c.logs.Add("stderr", false, "peervm: starting the container: "+err.Error())
		terminate(128, "StartError")
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		fail(err)
		return
	}
	defer devnull.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		fail(err)
		return
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		fail(err)
		return
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		fail(err)
		return
	}
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	attr := &os.ProcAttr{
		Dir:   "/",
		Env:   cs.Env,
		Files: []*os.File{devnull, outW, errW, repW},
		Sys: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
			Pdeathsig:  syscall.SIGKILL,
		},
	}
	exited := make(chan syscall.WaitStatus, 1)
	a.reapMu.Lock()
	p, err := os.StartProcess(self, append([]string{"placeholder-pod", initSubcommand, cs.WorkingDir}, argv...), attr)
	if err == nil {
		a.waiters[p.Pid] = exited
	}
	a.reapMu.Unlock()
	outW.Close()
	errW.Close()
	repW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		repR.Close()
		fail(err)
		return
	}
	c.pid = p.Pid
	var captured sync.WaitGroup
	captured.Add(2)
	go func() { defer captured.Done(); c.logs.Capture("stdout", outR); outR.Close() }()
	go func() { defer captured.Done(); c.logs.Capture("stderr", errR); errR.Close() }()

	go func() {
		msg, _ := io.ReadAll(repR) // EOF without a message: the command was exec'ed
		repR.Close()
		if len(msg) == 0 {
			now := time.Now().UTC().Format(time.RFC3339Nano)
			a.update(c, func(s *ContainerState) { s.State, s.PID, s.StartedAt = StateRunning, p.Pid, now })
			a.logf("container %s started: pid %d, argv %q, image %s (not pulled)", c.spec.Name, p.Pid, argv, c.spec.Image)
		}
		ws := <-exited
		// Everything in the namespace died with its init: the pipes reach EOF soon.
		logsDone := make(chan struct{})
		go func() { captured.Wait(); close(logsDone) }()
		select {
		case <-logsDone:
		case <-time.After(2 * time.Second):
		}
		reason := "Completed"
		if len(msg) > 0 {
			reason = "StartError"
		} else if exitCodeOf(ws) != 0 {
			reason = "Error"
		}
		terminate(exitCodeOf(ws), reason)
	}()
}

func (a *Agent) reapLoop() {
	sigchld := make(chan os.Signal, 16)
	signal.Notify(sigchld, syscall.SIGCHLD)
	tick := time.NewTicker(time.Second) // belt and braces: coalesced signals
	defer tick.Stop()
	for {
		select {
		case <-sigchld:
		case <-tick.C:
		}
		a.reapMu.Lock()
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			if ch, ok := a.waiters[pid]; ok {
				ch <- ws
				delete(a.waiters, pid)
			}
			// Anything else is an orphan re-parented to PID 1: just reaped.
		}
		a.reapMu.Unlock()
	}
}

// killAll: SIGTERM every running container's init (it ignores it unless it has a handler,
// like any PID 1), SIGKILL whatever is left after the grace period.
func (a *Agent) killAll(grace time.Duration, allDone chan struct{}) {
	signalAll := func(sig syscall.Signal) {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, c := range a.containers {
			if s := a.st.Containers[c.idx]; s.State != StateTerminated && c.pid > 0 {
				_ = syscall.Kill(c.pid, sig)
			}
		}
	}
	signalAll(syscall.SIGTERM)
	select {
	case <-allDone:
		return
	case <-time.After(grace):
	}
	signalAll(syscall.SIGKILL)
	select {
	case <-allDone:
	case <-time.After(5 * time.Second):
	}
}

// verdict: the placeholder's exit code is 0 when every container except the XCom sidecar
// exited 0; otherwise 1, with a termination message naming the failed containers.
func (a *Agent) verdict() (int, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var failed []string
	for _, s := range a.st.Containers {
		if s.Name == xcomSidecar {
			continue
		}
		switch {
		case s.State != StateTerminated:
			failed = append(failed, fmt.Sprintf("container %s did not finish (%s)", s.Name, s.State))
		case s.ExitCode == nil || *s.ExitCode != 0:
			code := -1
			if s.ExitCode != nil {
				code = *s.ExitCode
			}
			failed = append(failed, fmt.Sprintf("container %s exited with code %d", s.Name, code))
		}
	}
	if len(failed) == 0 {
		return 0, ""
	}
	return 1, strings.Join(failed, "; ")
}

func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/logs", a.serveLogs)
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		b, _ := json.MarshalIndent(a.st, "", "  ")
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(b, '\n'))
	})
	return mux
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Write(append(b, '\n'))
}

func (a *Agent) serveLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("container_name")
	c, ok := a.byName[name]
	if !ok {
		httpError(w, http.StatusNotFound, fmt.Sprintf("container %q not found", name))
		return
	}
	after := int64(-1 << 63)
	if s := q.Get("after_timestamp"); s != "" {
		t, err := ParseAfterTimestamp(s)
		if err != nil {
			httpError(w, http.StatusBadRequest, "after_timestamp: "+err.Error())
			return
		}
		after = t
	}
	max := 1000
	if s := q.Get("max_log_lines"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			httpError(w, http.StatusBadRequest, "max_log_lines must be a positive integer")
			return
		}
		max = n
	}
	b, _ := json.Marshal(map[string][]string{"logs": c.logs.After(after, max)})
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}
