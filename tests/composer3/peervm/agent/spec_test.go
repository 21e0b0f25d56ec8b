package main

import (
	"reflect"
	"testing"
)

func TestContainerEnv(t *testing.T) {
	environ := []string{
		"PATH=/placeholder/bin", "HOSTNAME=my-pod-abc", "KUBERNETES_SERVICE_HOST=10.96.0.1",
		"PEERVM_SPEC=[]", "PEERVM_GCE_VM=x", "PEERVM_BOOT_SECONDS=2",
		"PEERVM_0_FOO=bar", "PEERVM_0_EMPTY=", "PEERVM_0_WITH_EQ=a=b", "PEERVM_0_FOO=later wins",
		"PEERVM_1_FOO=one", "PEERVM_10_FOO=ten", "PEERVM_1_PATH=/opt/bin", "PEERVM_1_HOME=/home/x",
		"PEERVM_1_HOSTNAME=set", "PEERVM_0_=nameless", "PEERVM_0X_FOO=no",
	}
	cases := map[int][]string{
		0:  {"EMPTY=", "FOO=later wins", "HOME=/root", "HOSTNAME=my-pod-abc", "PATH=" + defaultPath, "WITH_EQ=a=b"},
		1:  {"FOO=one", "HOME=/home/x", "HOSTNAME=set", "PATH=/opt/bin"},
		10: {"FOO=ten", "HOME=/root", "HOSTNAME=my-pod-abc", "PATH=" + defaultPath},
		2:  {"HOME=/root", "HOSTNAME=my-pod-abc", "PATH=" + defaultPath},
	}
	for i, want := range cases {
		if got := ContainerEnv(environ, i); !reflect.DeepEqual(got, want) {
			t.Errorf("container %d: %q, want %q", i, got, want)
		}
	}
}

func TestParseSpecAndArgv(t *testing.T) {
	specs, err := ParseSpec(`[{"name":"base","image":"busybox:1.36","command":["sh","-c"],"args":["echo hi"],"workingDir":"/w"},
		{"name":"airflow-xcom-sidecar","image":"alpine","command":["sh","-c","trap \"exit 0\" INT; while true; do sleep 1; done;"],"args":null,"workingDir":null},
		{"name":"argsonly","image":"docker.io/library/perl:5.36","args":["perl","-e","1"]},
		{"name":"defaults","image":"registry.local:5000/library/perl@sha256:abc"},
		{"name":"unknown","image":"example.com/app:2"}]`)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"sh", "-c", "echo hi"},
		{"sh", "-c", "trap \"exit 0\" INT; while true; do sleep 1; done;"},
		{"perl", "-e", "1"},
		{"perl", "-de0"},
		nil,
	}
	for i, s := range specs {
		got, err := s.Argv()
		if !reflect.DeepEqual(got, want[i]) || (want[i] == nil) != (err != nil) {
			t.Errorf("%s: %q, %v; want %q", s.Name, got, err, want[i])
		}
	}
	if specs[0].WorkingDir != "/w" {
		t.Errorf("workingDir %q", specs[0].WorkingDir)
	}
	for _, bad := range []string{"", "{}", "[]", `[{"image":"x"}]`, `[{"name":"a"},{"name":"a"}]`} {
		if _, err := ParseSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
