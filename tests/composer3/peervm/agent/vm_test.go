package main

import (
	"strconv"
	"strings"
	"testing"
)

func TestParseMachineType(t *testing.T) {
	valid := map[string]float64{
		"e2-custom-micro-2048":    0.25,
		"e2-custom-small-2048":    0.5,
		"e2-custom-small-4096":    0.5,
		"e2-custom-medium-8192":   1,
		"e2-custom-2-8192":        2,
		"e2-custom-4-2048":        4, // 0.5 GB per vCPU
		"e2-custom-16-131072":     16,
		"e2-custom-32-131072":     32,
		"e2-custom-32-16384":      32,
		"e2-custom-medium-2048":   1,
		"e2-custom-8-65536":       8,
		"e2-custom-small-3072":    0.5,
		"e2-custom-2-16384":       2,
		"e2-custom-micro-2048 ":   -1, // trailing space: invalid
		"e2-custom-3-8192":        -1, // odd vCPUs
		"e2-custom-34-131072":     -1, // > 32 vCPUs
		"e2-custom-0-2048":        -1,
		"e2-custom-micro-3072":    -1, // 12 GB per vCPU
		"e2-custom-small-1024":    -1, // < 2 GB
		"e2-custom-medium-1536":   -1, // not whole GB
		"e2-custom-medium-9216":   -1, // 9 GB per vCPU
		"e2-custom-32-132096":     -1, // 129 GB
		"e2-custom-32-15360":      -1, // 15 GB for 32 vCPUs < 0.5 per vCPU
		"n2-custom-2-8192":        -1,
		"e2-standard-2":           -1,
		"e2-custom-2-8192-ext":    -1,
		"e2-custom-02-8192":       -1,
		"e2-custom-2-08192":       -1,
		"":                        -1,
		"e2-custom-large-8192":    -1,
		"e2-custom-2-8.5":         -1,
		"e2-custom-medium-8192MB": -1,
	}
	for mt, cpu := range valid {
		vm, err := ParseMachineType(mt)
		if cpu < 0 {
			if err == nil {
				t.Errorf("%q: accepted, want rejected", mt)
			} else if !strings.HasPrefix(err.Error(), "cannot create VM: invalid machine type") {
				t.Errorf("%q: error %q", mt, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", mt, err)
		} else if vm.CPU != cpu {
			t.Errorf("%q: cpu %g, want %g", mt, vm.CPU, cpu)
		}
	}
}

// Every machine type Google's hook can produce is valid: for each CPU step, memory 2..128 GB
// with 0.5..8 GB per vCPU.
func TestAllHookMachineTypesValid(t *testing.T) {
	cpus := map[string]float64{"micro": 0.25, "small": 0.5, "medium": 1}
	for n := 2; n <= 32; n += 2 {
		cpus[itoa(n)] = float64(n)
	}
	count := 0
	for s, cpu := range cpus {
		for gb := 2; gb <= 128; gb++ {
			r := float64(gb) / cpu
			mt := "e2-custom-" + s + "-" + itoa(gb*1024)
			_, err := ParseMachineType(mt)
			if want := r >= 0.5 && r <= 8; want != (err == nil) {
				t.Errorf("%s: valid=%v, err=%v", mt, want, err)
			}
			if err == nil {
				count++
			}
		}
	}
	if count == 0 {
		t.Fatal("no valid machine type")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestParseGCEVM(t *testing.T) {
	block := "logging:\n- Workload\n- System\nselector:\n  matchLabels:\n    diskSizeGb: '30'\n    machineType: e2-custom-small-2048\nvmServiceAccount: peervm-vm@tenant.iam.gserviceaccount.com\n"
	flow := `{selector: {matchLabels: {machineType: e2-custom-4-16384, diskSizeGb: "130"}}, logging: [Workload, System], vmServiceAccount: peervm-vm@t.iam.gserviceaccount.com}`
	jsonDoc := `{"selector": {"matchLabels": {"machineType": "e2-custom-medium-4096", "diskSizeGb": "31"}}}`
	noDisk := "selector:\n  matchLabels:\n    machineType: \"e2-custom-2-8192\"  # comment\n"
	for doc, want := range map[string]VM{
		block:   {MachineType: "e2-custom-small-2048", CPU: 0.5, MemoryMB: 2048, DiskSizeGB: 30},
		flow:    {MachineType: "e2-custom-4-16384", CPU: 4, MemoryMB: 16384, DiskSizeGB: 130},
		jsonDoc: {MachineType: "e2-custom-medium-4096", CPU: 1, MemoryMB: 4096, DiskSizeGB: 31},
		noDisk:  {MachineType: "e2-custom-2-8192", CPU: 2, MemoryMB: 8192},
	} {
		got, err := ParseGCEVM(doc)
		if err != nil || got != want {
			t.Errorf("ParseGCEVM(%q) = %+v, %v; want %+v", doc, got, err, want)
		}
	}
	for doc, wantErr := range map[string]string{
		"":             "no node.gke.io/gce-vm annotation",
		"selector: {}": "no selector.matchLabels.machineType",
		strings.Replace(block, "'30'", "'131'", 1):            "diskSizeGb 131 is larger than the maximum 130 GB",
		strings.Replace(block, "'30'", "'x'", 1):              `invalid diskSizeGb "x"`,
		strings.Replace(block, "small-2048", "small-8192", 1): `invalid machine type "e2-custom-small-8192"`,
		strings.Replace(flow, "4-16384", "64-16384", 1):       `invalid machine type "e2-custom-64-16384"`,
	} {
		_, err := ParseGCEVM(doc)
		if err == nil || !strings.Contains(err.Error(), wantErr) || !strings.HasPrefix(err.Error(), "cannot create VM: ") {
			t.Errorf("ParseGCEVM(%q) error = %v, want it to contain %q", doc, err, wantErr)
		}
	}
}

func TestCheckQuota(t *testing.T) {
	small, _ := ParseMachineType("e2-custom-8-32768")
	if err := CheckQuota(small, DefaultCPUQuota); err != nil {
		t.Fatalf("8 vCPUs within a quota of 8: %v", err)
	}
	big, _ := ParseMachineType("e2-custom-16-16384")
	err := CheckQuota(big, DefaultCPUQuota)
	if err == nil || !strings.Contains(err.Error(), "Quota 'CPUS' exceeded") {
		t.Fatalf("16 vCPUs over a quota of 8: got %v", err)
	}
}
