package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The simulated VM is "created" from the node.gke.io/gce-vm annotation (PEERVM_GCE_VM).
// Only the two selector labels matter: machineType and diskSizeGb. The annotation is YAML
// (block style from PyYAML's yaml.dump, or flow style / JSON); rather than carrying a YAML
// parser, the two keys are looked up wherever they appear, with their scalar value plain,
// single- or double-quoted.

const maxDiskSizeGB = 130 // 30 GB for the OS + at most 100 GB of ephemeral storage

// VM is a machine the simulation agreed to create.
type VM struct {
	MachineType string
	CPU         float64 // vCPUs (0.25 for micro)
	MemoryMB    int
	DiskSizeGB  int // 0 when the annotation does not say
}

func (v VM) String() string {
	disk := "default disk"
	if v.DiskSizeGB > 0 {
		disk = fmt.Sprintf("%d GB disk", v.DiskSizeGB)
	}
	return fmt.Sprintf("%s (%g vCPU, %d MB, %s)", v.MachineType, v.CPU, v.MemoryMB, disk)
}

func yamlScalar(doc, key string) (string, bool) {
	re := regexp.MustCompile(`(?m)(?:^|[\s{,])["']?` + regexp.QuoteMeta(key) +
		`["']?\s*:[ \t]*(?:"([^"\n]*)"|'([^'\n]*)'|([^\s,}\]#][^,}\]\n#]*))`)
	m := re.FindStringSubmatch(doc)
	if m == nil {
		return "", false
	}
	for _, g := range m[1:] {
		if g != "" {
			return strings.TrimSpace(g), true
		}
	}
	return "", true
}

// ParseGCEVM reads the annotation and validates it; the error text is the reason the VM
// cannot be created (it goes to the termination message).
func ParseGCEVM(annotation string) (VM, error) {
	if strings.TrimSpace(annotation) == "" {
		return VM{}, fmt.Errorf("cannot create VM: the pod has no node.gke.io/gce-vm annotation (PEERVM_GCE_VM is empty)")
	}
	mt, ok := yamlScalar(annotation, "machineType")
	if !ok || mt == "" {
		return VM{}, fmt.Errorf("cannot create VM: node.gke.io/gce-vm has no selector.matchLabels.machineType")
	}
	vm, err := ParseMachineType(mt)
	if err != nil {
		return VM{}, err
	}
	if disk, ok := yamlScalar(annotation, "diskSizeGb"); ok {
		n, err := strconv.Atoi(disk)
		if err != nil || n < 1 {
			return VM{}, fmt.Errorf("cannot create VM: invalid diskSizeGb %q", disk)
		}
		if n > maxDiskSizeGB {
			return VM{}, fmt.Errorf("cannot create VM: diskSizeGb %d is larger than the maximum %d GB", n, maxDiskSizeGB)
		}
		vm.DiskSizeGB = n
	}
	return vm, nil
}

// ParseMachineType accepts e2-custom-<micro|small|medium|2..32 even>-<MB>: memory a whole
// number of GB, 2..128 GB, 0.5..8 GB per vCPU.
func ParseMachineType(mt string) (VM, error) {
	bad := func(why string) (VM, error) {
		return VM{}, fmt.Errorf("cannot create VM: invalid machine type %q: %s", mt, why)
	}
	parts := strings.Split(mt, "-")
	if len(parts) != 4 || parts[0] != "e2" || parts[1] != "custom" {
		return bad("expected e2-custom-<CPU>-<MEMORY_MB>")
	}
	var cpu float64
	switch parts[2] {
	case "micro":
		cpu = 0.25
	case "small":
		cpu = 0.5
	case "medium":
		cpu = 1
	default:
		n, err := strconv.Atoi(parts[2])
		if err != nil || strconv.Itoa(n) != parts[2] {
			return bad("CPU must be micro, small, medium or an even number 2..32")
		}
		if n < 2 || n > 32 || n%2 != 0 {
			return bad(fmt.Sprintf("%d vCPUs: must be an even number 2..32", n))
		}
		cpu = float64(n)
	}
	mb, err := strconv.Atoi(parts[3])
	if err != nil || strconv.Itoa(mb) != parts[3] {
		return bad("memory must be a number of MB")
	}
	if mb%1024 != 0 {
		return bad(fmt.Sprintf("memory %d MB is not a whole number of GB", mb))
	}
	gb := mb / 1024
	if gb < 2 || gb > 128 {
		return bad(fmt.Sprintf("memory %d GB is outside 2..128 GB", gb))
	}
	const eps = 1e-9
	if ratio := float64(gb) / cpu; ratio < 0.5-eps || ratio > 8+eps {
		return bad(fmt.Sprintf("%g GB per vCPU is outside 0.5..8", ratio))
	}
	return VM{MachineType: mt, CPU: cpu, MemoryMB: mb}, nil
}

// DefaultCPUQuota is the simulated project's regional CPU quota, in vCPUs: small enough that a
// test can ask for a VM beyond it (16 vCPUs) the way a real project runs out of quota.
const DefaultCPUQuota = 8

// CheckQuota fails like a GCE insert over quota: the VM is never created.
func CheckQuota(vm VM, quota float64) error {
	if vm.CPU > quota {
		return fmt.Errorf("cannot create VM %s: Quota 'CPUS' exceeded. Limit: %g in region (simulated; PEERVM_CPU_QUOTA)",
			vm.MachineType, quota)
	}
	return nil
}
