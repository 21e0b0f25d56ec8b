package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// The exec answer is a byte stream of unmasked WebSocket binary frames (RFC 6455), each
// payload starting with a Kubernetes remotecommand channel byte: a header frame (\x01 only),
// stdout frames (\x01 + bytes), and a footer frame on the error channel (\x03 + a
// metav1.Status). The caller base64-encodes the stream.

const (
	chanStdout = 1
	chanError  = 3
	// Large stdout is split into frames of at most this many bytes, on UTF-8 boundaries
	// (a reader may decode each frame's payload on its own).
	maxFramePayload = 1 << 20
)

func wsFrame(payload []byte) []byte {
	n := len(payload)
	var head []byte
	switch {
	case n < 126:
		head = []byte{0x82, byte(n)}
	case n <= 0xffff:
		head = []byte{0x82, 126, 0, 0}
		binary.BigEndian.PutUint16(head[2:], uint16(n))
	default:
		head = make([]byte, 10)
		head[0], head[1] = 0x82, 127
		binary.BigEndian.PutUint64(head[2:], uint64(n))
	}
	return append(head, payload...)
}

func channelFrame(ch byte, data []byte) []byte {
	return wsFrame(append([]byte{ch}, data...))
}

// splitUTF8 cuts b into pieces of at most max bytes without splitting a UTF-8 sequence
// (invalid bytes are cut anywhere).
func splitUTF8(b []byte, max int) [][]byte {
	var out [][]byte
	for len(b) > max {
		cut := max
		// Back up to the first byte of the sequence b[max] belongs to.
		for i := 0; i < utf8.UTFMax-1 && cut > 1 && !utf8.RuneStart(b[cut]); i++ {
			cut--
		}
		if !utf8.RuneStart(b[cut]) {
			cut = max
		}
		out = append(out, b[:cut])
		b = b[cut:]
	}
	if len(b) > 0 {
		out = append(out, b)
	}
	return out
}

type statusCause struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

type statusDetails struct {
	Causes []statusCause `json:"causes"`
}

type k8sStatus struct {
	Metadata struct{}       `json:"metadata"`
	Status   string         `json:"status"`
	Message  string         `json:"message,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Details  *statusDetails `json:"details,omitempty"`
}

func execStatus(exitCode int, argv []string) []byte {
	st := k8sStatus{Status: "Success"}
	if exitCode != 0 {
		st.Status = "Failure"
		st.Reason = "NonZeroExitCode"
		st.Message = fmt.Sprintf("command terminated with non-zero exit code: error executing command %v, exit code %d", argv, exitCode)
		st.Details = &statusDetails{Causes: []statusCause{{Reason: "ExitCode", Message: fmt.Sprint(exitCode)}}}
	}
	b, _ := json.Marshal(st)
	return b
}

// EncodeExecFrames builds the frame stream for one finished exec.
func EncodeExecFrames(stdout []byte, exitCode int, argv []string) []byte {
	out := channelFrame(chanStdout, nil)
	for _, chunk := range splitUTF8(stdout, maxFramePayload) {
		out = append(out, channelFrame(chanStdout, chunk)...)
	}
	return append(out, channelFrame(chanError, execStatus(exitCode, argv))...)
}
