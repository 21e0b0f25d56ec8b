package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The agent re-executes its own binary as the containers' namespace init; in `go test` that
// binary is the test binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == initSubcommand {
		os.Exit(containerInit(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func captureStdout(t *testing.T, f func() int) (string, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	code := f()
	os.Stdout = saved
	w.Close()
	b, _ := io.ReadAll(r)
	return string(b), code
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func statusesNow(t *testing.T) map[string]string {
	out, code := captureStdout(t, runContainerStatuses)
	if code != 0 {
		t.Fatalf("container-statuses exit %d", code)
	}
	var list []statusEntry
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("container-statuses %q: %v", out, err)
	}
	m := map[string]string{}
	for _, e := range list {
		m[e.Container] = e.State
	}
	return m
}

// TestAgentEndToEnd runs the agent in-process with a KPO-like pod: a base container and the
// XCom sidecar, each in its own PID + mount namespace.
func TestAgentEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (namespaces)")
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("needs nsenter")
	}
	dir := t.TempDir()
	xcom := filepath.Join(dir, "xcom")
	const port = "127.0.0.1:19381"
	t.Setenv("PEERVM_STATE_DIR", filepath.Join(dir, "state"))
	t.Setenv("PEERVM_TERMINATION_LOG", filepath.Join(dir, "termination-log"))
	t.Setenv("PEERVM_LISTEN", port)
	t.Setenv("PEERVM_BOOT_SECONDS", "0.2")
	t.Setenv("PEERVM_SHUTDOWN_GRACE_SECONDS", "1")
	t.Setenv("PEERVM_GCE_VM", "selector:\n  matchLabels:\n    diskSizeGb: '30'\n    machineType: e2-custom-small-2048\n")
	spec, _ := json.Marshal([]ContainerSpec{
		{Name: "base", Image: "busybox", Command: []string{"/bin/sh", "-c"},
			Args: []string{`echo "pid=$$$$ foo=$FOO k8s=$(FOO) cwd=$(pwd)"; [ "$(ls /proc | grep -c '^[0-9]')" -lt 10 ] && echo "own /proc"; echo oops >&2; mkdir -p ` + xcom +
				`; echo '{"answer": 42}' > ` + xcom + `/return.json; sleep 1; exit 3`},
			WorkingDir: filepath.Join(dir, "work")},
		{Name: "airflow-xcom-sidecar", Image: "alpine", Command: []string{"sh", "-c", `trap "exit 0" INT; while true; do sleep 1; done;`}},
	})
	t.Setenv("PEERVM_SPEC", string(spec))
	t.Setenv("PEERVM_0_FOO", "bar")

	if got := statusesNow(t); got["base"] != StateWaiting {
		t.Errorf("before the agent: %v", got)
	}
	result := make(chan int, 1)
	go func() { result <- runAgent() }()

	waitFor(t, "both containers RUNNING", func() bool {
		s := statusesNow(t)
		return s["base"] == StateRunning && s["airflow-xcom-sidecar"] == StateRunning
	})
	waitFor(t, "the log server", func() bool {
		resp, err := http.Get("http://" + port + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	waitFor(t, "base to terminate", func() bool { return statusesNow(t)["base"] == StateTerminated })

	resp, err := http.Get("http://" + port + "/logs?container_name=base&after_timestamp=2000-01-01T00:00:00.0Z&max_log_lines=10")
	if err != nil {
		t.Fatal(err)
	}
	var logs struct{ Logs []string }
	json.NewDecoder(resp.Body).Decode(&logs)
	resp.Body.Close()
	var msgs []string
	for _, l := range logs.Logs {
		p := strings.SplitN(l, " ", 4)
		msgs = append(msgs, p[1]+" "+p[3])
	}
	joined := strings.Join(msgs, "|")
	for _, want := range []string{"stdout pid=1 foo=bar k8s=bar cwd=" + filepath.Join(dir, "work"), "stdout own /proc", "stderr oops"} {
		if !strings.Contains(joined, want) {
			t.Errorf("logs %q lack %q", msgs, want)
		}
	}
	if resp, err := http.Get("http://" + port + "/logs?container_name=nope"); err != nil || resp.StatusCode != 404 {
		t.Errorf("unknown container: %v %v", resp.StatusCode, err)
	}

	// Google's XCom extraction, then the sidecar kill.
	out, code := captureStdout(t, func() int {
		return runExec([]string{"airflow-xcom-sidecar", `["/bin/sh","-c","if [ -s ` + xcom + `/return.json ]; then cat ` + xcom + `/return.json; else echo __airflow_xcom_result_empty__; fi"]`})
	})
	raw, err := base64.StdEncoding.DecodeString(out)
	if code != 0 || err != nil {
		t.Fatalf("exec: exit %d, %v", code, err)
	}
	if got := payloadLikeGoogle(t, decodeFrames(t, raw)); got != "{\"answer\": 42}\n" {
		t.Errorf("xcom payload %q", got)
	}
	out, code = captureStdout(t, func() int {
		return runExec([]string{"airflow-xcom-sidecar", `["/bin/sh","-c","echo $$ $(cat /proc/1/cmdline | tr '\\0' ' ')"]`})
	})
	raw, _ = base64.StdEncoding.DecodeString(out)
	if got := payloadLikeGoogle(t, decodeFrames(t, raw)); !strings.Contains(got, "sh -c trap") || strings.HasPrefix(got, "1 ") {
		t.Errorf("exec does not see the sidecar as PID 1: %q", got)
	}
	if _, code := captureStdout(t, func() int { return runExec([]string{"base", `["true"]`}) }); code != 1 {
		t.Errorf("exec in a terminated container: exit %d", code)
	}
	if _, code := captureStdout(t, func() int { return runExec([]string{"nope", `["true"]`}) }); code != 1 {
		t.Errorf("exec in an unknown container: exit %d", code)
	}
	captureStdout(t, func() int { return runExec([]string{"airflow-xcom-sidecar", `["/bin/sh","-c","kill -2 1"]`}) })
	waitFor(t, "the sidecar to terminate", func() bool { return statusesNow(t)["airflow-xcom-sidecar"] == StateTerminated })

	select {
	case code := <-result:
		if code != 1 {
			t.Errorf("agent exit %d, want 1 (base exited 3)", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not exit after the grace period")
	}
	if msg, _ := os.ReadFile(filepath.Join(dir, "termination-log")); string(msg) != "container base exited with code 3" {
		t.Errorf("termination message %q", msg)
	}
}

func TestAgentInvalidMachineType(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PEERVM_STATE_DIR", filepath.Join(dir, "state"))
	t.Setenv("PEERVM_TERMINATION_LOG", filepath.Join(dir, "termination-log"))
	t.Setenv("PEERVM_LISTEN", "127.0.0.1:19382")
	t.Setenv("PEERVM_CREATE_FAIL_SECONDS", "0.1")
	t.Setenv("PEERVM_GCE_VM", "{selector: {matchLabels: {machineType: e2-custom-small-8192, diskSizeGb: '30'}}}")
	t.Setenv("PEERVM_SPEC", `[{"name":"base","command":["true"]}]`)
	var code int
	out, _ := captureStdout(t, func() int { code = runAgent(); return code })
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	msg, _ := os.ReadFile(filepath.Join(dir, "termination-log"))
	if !strings.Contains(string(msg), `invalid machine type "e2-custom-small-8192"`) || !strings.Contains(out, string(msg)) {
		t.Errorf("termination message %q, output %q", msg, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); err == nil {
		t.Errorf("state written for a VM that was never created")
	}
}
