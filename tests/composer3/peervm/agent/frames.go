package main

import (
	"encoding/binary"
	"unicode/utf8"
)

// The exec answer is a byte stream of unmasked WebSocket frames (RFC 6455), shaped like the
// captures in Google's public tests (composer-airflow: the Airflow 2 test data
// peer_vm_exec_response_100000_length_list and the vectors of the Airflow 3
// patches/kubernetes test_utils.py): a binary header frame (\x01 only), binary stdout frames
// (\x01 + at most 24 KiB of stdout each), and a WebSocket CLOSE frame with status 1000
// (88 02 03 E8). There is no Kubernetes Status: the caller learns no exit code (Google's
// parser drops the first and the last frame whatever they are). The caller base64-encodes the
// stream.

const (
	chanStdout = 1
	opBinary   = 0x2
	opClose    = 0x8
	// Stdout is split into frames of at most this many bytes (Google's capture: 24 KiB), on
	// UTF-8 boundaries: Google's parser decodes each frame's payload on its own. Where the real
	// VM cuts a multi-byte character is not known (the captures are ASCII).
	maxFramePayload = 24 << 10
	closeNormal     = 1000
)

func wsFrame(opcode byte, payload []byte) []byte {
	n := len(payload)
	var head []byte
	switch {
	case n < 126:
		head = []byte{0x80 | opcode, byte(n)}
	case n <= 0xffff:
		head = []byte{0x80 | opcode, 126, 0, 0}
		binary.BigEndian.PutUint16(head[2:], uint16(n))
	default:
		head = make([]byte, 10)
		head[0], head[1] = 0x80|opcode, 127
		binary.BigEndian.PutUint64(head[2:], uint64(n))
	}
	return append(head, payload...)
}

func channelFrame(ch byte, data []byte) []byte {
	return wsFrame(opBinary, append([]byte{ch}, data...))
}

func closeFrame(code uint16) []byte {
	return wsFrame(opClose, binary.BigEndian.AppendUint16(nil, code))
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

// EncodeExecFrames builds the frame stream for one finished exec's stdout.
func EncodeExecFrames(stdout []byte) []byte {
	out := channelFrame(chanStdout, nil)
	for _, chunk := range splitUTF8(stdout, maxFramePayload) {
		out = append(out, channelFrame(chanStdout, chunk)...)
	}
	return append(out, closeFrame(closeNormal)...)
}
