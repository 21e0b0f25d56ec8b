package main

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// State shared between the agent (PID 1) and the `container-statuses` / `exec` processes
// that `kubectl exec` starts in the same container: one JSON file, replaced atomically.

const (
	StateWaiting    = "WAITING"
	StateRunning    = "RUNNING"
	StateTerminated = "TERMINATED"
)

type ContainerState struct {
	Name       string   `json:"name"`
	State      string   `json:"state"`
	PID        int      `json:"pid,omitempty"` // init of its PID namespace, as the agent sees it
	ExitCode   *int     `json:"exitCode,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	StartedAt  string   `json:"startedAt,omitempty"`
	FinishedAt string   `json:"finishedAt,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
}

type AgentState struct {
	VM         string           `json:"vm"`
	Phase      string           `json:"phase"` // booting, running, shutting-down
	Containers []ContainerState `json:"containers"`
}

func stateDir() string {
	if d := os.Getenv("PEERVM_STATE_DIR"); d != "" {
		return d
	}
	return "/run/peervm"
}

func statePath() string { return filepath.Join(stateDir(), "state.json") }

func writeState(st *AgentState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(stateDir(), 0o755); err != nil {
		return err
	}
	tmp := statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, statePath())
}

func readState() (*AgentState, error) {
	b, err := os.ReadFile(statePath())
	if err != nil {
		return nil, err
	}
	var st AgentState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

type statusEntry struct {
	Container string `json:"container"`
	State     string `json:"state"`
}

// Statuses is what `container-statuses` prints. Before the agent has written its state
// (the VM is still booting) every container of PEERVM_SPEC is WAITING.
func Statuses(st *AgentState, specs []ContainerSpec) []statusEntry {
	out := []statusEntry{}
	if st != nil {
		for _, c := range st.Containers {
			out = append(out, statusEntry{c.Name, c.State})
		}
		return out
	}
	for _, c := range specs {
		out = append(out, statusEntry{c.Name, StateWaiting})
	}
	return out
}
