package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf8"
)

type frame struct {
	fin    bool
	opcode byte
	data   []byte
}

// decodeFrames is an independent RFC 6455 reader: it rejects masked frames, as Google's
// client (websockets' Frame.parse(mask=False)) does.
func decodeFrames(t *testing.T, b []byte) []frame {
	t.Helper()
	var out []frame
	for len(b) > 0 {
		if len(b) < 2 {
			t.Fatalf("truncated frame header")
		}
		f := frame{fin: b[0]&0x80 != 0, opcode: b[0] & 0x0f}
		if b[0]&0x70 != 0 {
			t.Fatalf("reserved bits set")
		}
		if b[1]&0x80 != 0 {
			t.Fatalf("masked frame")
		}
		n, h := uint64(b[1]&0x7f), 2
		switch n {
		case 126:
			n, h = uint64(binary.BigEndian.Uint16(b[2:4])), 4
		case 127:
			n, h = binary.BigEndian.Uint64(b[2:10]), 10
		}
		if uint64(len(b)-h) < n {
			t.Fatalf("truncated frame payload: want %d, have %d", n, len(b)-h)
		}
		f.data = b[h : h+int(n)]
		out = append(out, f)
		b = b[h+int(n):]
	}
	return out
}

// payloadLikeGoogle joins data[1:] of every frame but the first and the last.
func payloadLikeGoogle(t *testing.T, frames []frame) string {
	var sb strings.Builder
	for _, f := range frames[1 : len(frames)-1] {
		if !utf8.Valid(f.data[1:]) {
			t.Fatalf("frame payload is not valid UTF-8 on its own")
		}
		sb.Write(f.data[1:])
	}
	return sb.String()
}

func TestExecFramesRoundTrip(t *testing.T) {
	big := strings.Repeat("é€𝄞x", maxFramePayload/3) // multi-byte runes across frame boundaries
	for _, tc := range []struct {
		name   string
		stdout string
		frames int
	}{
		{"empty", "", 2},
		{"xcom", "{\"key\": [1, 2, 3]}\n", 3},
		{"125 bytes", strings.Repeat("a", 124), 3}, // payload 125: 7-bit length
		{"126 bytes", strings.Repeat("a", 125), 3}, // payload 126: 16-bit length
		{"24 KiB", strings.Repeat("b", maxFramePayload), 3},
		{"24 KiB + 1", strings.Repeat("b", maxFramePayload+1), 4},
		{"100000-element list", "[" + strings.Repeat("12345, ", 99999) + "12345]", 0},
		{"multi-frame utf8", big, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := base64.StdEncoding.EncodeToString(EncodeExecFrames([]byte(tc.stdout)))
			raw, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				t.Fatal(err)
			}
			frames := decodeFrames(t, raw)
			if tc.frames != 0 && len(frames) != tc.frames {
				t.Fatalf("%d frames, want %d", len(frames), tc.frames)
			}
			if len(frames) < 2 {
				t.Fatalf("%d frames", len(frames))
			}
			last := len(frames) - 1
			for i, f := range frames[:last] {
				if !f.fin || f.opcode != 2 {
					t.Errorf("frame %d: fin=%v opcode=%d, want a final binary frame", i, f.fin, f.opcode)
				}
				if len(f.data) > maxFramePayload+1 {
					t.Errorf("frame %d: %d bytes", i, len(f.data))
				}
				if i > 0 && i < last-1 && !strings.HasPrefix(tc.name, "multi") && len(f.data) != maxFramePayload+1 {
					t.Errorf("frame %d: %d bytes, want a full %d", i, len(f.data), maxFramePayload+1)
				}
			}
			if !bytes.Equal(frames[0].data, []byte{1}) {
				t.Errorf("header frame %q, want \\x01", frames[0].data)
			}
			for _, f := range frames[1:last] {
				if f.data[0] != 1 {
					t.Errorf("data frame on channel %d", f.data[0])
				}
			}
			if got := payloadLikeGoogle(t, frames); got != tc.stdout {
				t.Errorf("payload %d bytes, want %d", len(got), len(tc.stdout))
			}
			if f := frames[last]; !f.fin || f.opcode != 8 || !bytes.Equal(f.data, []byte{0x03, 0xe8}) {
				t.Errorf("last frame fin=%v opcode=%d data=% x, want a CLOSE frame with code 1000", f.fin, f.opcode, f.data)
			}
		})
	}
}

// Google's public test vector (Airflow 3 patches/kubernetes test_utils.py): "222\n".
func TestExecFramesMatchGooglesVector(t *testing.T) {
	if got := base64.StdEncoding.EncodeToString(EncodeExecFrames([]byte("222\n"))); got != "ggEBggUBMjIyCogCA+g=" {
		t.Errorf("got %s", got)
	}
	if got := base64.StdEncoding.EncodeToString(EncodeExecFrames(nil)); got != "ggEBiAID6A==" {
		t.Errorf("empty: got %s", got)
	}
}

func TestSplitUTF8(t *testing.T) {
	s := []byte(strings.Repeat("a€", 10)) // 4 bytes per pair
	for max := 3; max <= 9; max++ {
		parts := splitUTF8(s, max)
		if got := bytes.Join(parts, nil); !bytes.Equal(got, s) {
			t.Fatalf("max %d: lost bytes", max)
		}
		for _, p := range parts {
			if len(p) > max || !utf8.Valid(p) {
				t.Errorf("max %d: bad part %q", max, p)
			}
		}
	}
	// Invalid UTF-8 still splits (anywhere) and loses nothing.
	inv := bytes.Repeat([]byte{0x80}, 10)
	if parts := splitUTF8(inv, 3); len(bytes.Join(parts, nil)) != 10 || len(parts) != 4 {
		t.Errorf("invalid input: %q", parts)
	}
}
