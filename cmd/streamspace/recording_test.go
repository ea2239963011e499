package main

import (
	"encoding/binary"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"streamspace/internal/rfb"
)

// The CLI renders the last frame, or the frame at -at, of a recording file.
func TestRecordingRender(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "rec.rfb")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	w := rfb.NewRecordingWriter(f, t0)
	frame := func(v byte) []byte {
		b := []byte{rfb.MsgFramebufferUpdate, 0, 0, 1, 0, 0, 0, 0, 0, 4, 0, 2}
		b = binary.BigEndian.AppendUint32(b, uint32(rfb.EncRaw))
		for i := 0; i < 8; i++ {
			b = append(b, v, v, v, 0)
		}
		return b
	}
	for _, err := range []error{
		w.Header(rfb.RecordingHeader{PixelFormat: rfb.RGBA32}),
		w.Segment(t0, rfb.RecordingSegment{Width: 4, Height: 2, Reason: "start"}),
		w.Data(t0.Add(time.Second), frame(50)),
		w.Data(t0.Add(8*time.Second), frame(200)),
		w.Cut(), f.Close(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		args []string
		want uint8
	}{{nil, 200}, {[]string{"-at", "5s"}, 50}} {
		out := filepath.Join(dir, "out.png")
		if err := recordingCmd(append([]string{"render", "-in", in, "-out", out}, c.args...)); err != nil {
			t.Fatal(err)
		}
		pf, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(pf)
		pf.Close()
		if err != nil {
			t.Fatal(err)
		}
		if r, _, _, _ := img.At(3, 1).RGBA(); uint8(r>>8) != c.want || img.Bounds().Dx() != 4 {
			t.Fatalf("render %v: pixel %d, size %v; want %d", c.args, r>>8, img.Bounds(), c.want)
		}
	}
	if err := recordingCmd([]string{"info", "-in", in}); err != nil {
		t.Fatal(err)
	}
}
