package rfb

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/binary"
	"image/color"
	"io"
	"strings"
	"testing"
	"time"
)

// rawUpdate is a FramebufferUpdate with one Raw rectangle of a single colour.
func rawUpdate(x, y, w, h int, c color.RGBA) []byte {
	b := []byte{MsgFramebufferUpdate, 0, 0, 1}
	b = rectHeader(b, x, y, w, h, EncRaw)
	for i := 0; i < w*h; i++ {
		b = append(b, c.R, c.G, c.B, 0) // RGBA32: the fourth byte is padding
	}
	return b
}

func rectHeader(b []byte, x, y, w, h int, enc int32) []byte {
	for _, v := range []int{x, y, w, h} {
		b = binary.BigEndian.AppendUint16(b, uint16(v))
	}
	return binary.BigEndian.AppendUint32(b, uint32(enc))
}

func copyRectUpdate(sx, sy, x, y, w, h int) []byte {
	b := rectHeader([]byte{MsgFramebufferUpdate, 0, 0, 1}, x, y, w, h, EncCopyRect)
	b = binary.BigEndian.AppendUint16(b, uint16(sx))
	return binary.BigEndian.AppendUint16(b, uint16(sy))
}

func desktopSizeUpdate(w, h int) []byte {
	return rectHeader([]byte{MsgFramebufferUpdate, 0, 0, 1}, 0, 0, w, h, EncDesktopSize)
}

var (
	red   = color.RGBA{200, 10, 10, 255}
	green = color.RGBA{10, 200, 10, 255}
	blue  = color.RGBA{10, 10, 200, 255}
)

func at(p *Player, x, y int) color.RGBA { return p.FB.Image.RGBAAt(x, y) }

// The round trip: what a writer records (split across records, chunks and segments)
// replays to the same pictures at the same offsets.
func TestRecordingRoundTrip(t *testing.T) {
	var obj bytes.Buffer
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	w := NewRecordingWriter(&obj, t0)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Header(RecordingHeader{RecordingID: "rec_x", SessionID: "sess_y", PixelFormat: RGBA32, Encodings: []string{"raw"}}))
	must(w.Segment(ms(100), RecordingSegment{Width: 32, Height: 24, Name: "desk", Reason: "start"}))
	// A full red frame, its bytes arriving in three reads: the first at 200 ms, the rest later.
	full := rawUpdate(0, 0, 32, 24, red)
	must(w.Data(ms(200), full[:100]))
	must(w.Data(ms(1500), full[100:2000]))
	must(w.Cut()) // a chunk boundary (a part's end), in the middle of a message
	must(w.Data(ms(1600), full[2000:]))
	// A green square at 3 s, copied to the right at 4 s.
	must(w.Data(ms(3000), rawUpdate(0, 0, 8, 8, green)))
	must(w.Data(ms(4000), copyRectUpdate(0, 0, 16, 0, 8, 8)))
	// The desktop grows at 5 s; a blue bottom band is drawn.
	must(w.Data(ms(5000), append(desktopSizeUpdate(40, 30), rawUpdate(0, 24, 40, 6, blue)...)))
	// The connection drops within a message; a new one starts (a takeover) with a full frame.
	must(w.Data(ms(6000), rawUpdate(0, 0, 40, 30, green)[:50]))
	must(w.Segment(ms(7000), RecordingSegment{Width: 40, Height: 30, Reason: "takeover"}))
	must(w.Data(ms(7100), rawUpdate(0, 0, 40, 30, blue)))
	end, err := w.End(ms(9000), "stopped")
	must(err)
	must(w.Cut())
	if end.DurationMs != 9000 {
		t.Fatalf("end %+v", end)
	}

	open := func() *Player {
		p, err := NewPlayer(bytes.NewReader(obj.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := open()
	if p.Header.RecordingID != "rec_x" || !p.Header.StartedAt.Equal(t0) || p.Header.Format != RecordingFormat {
		t.Fatalf("header %+v", p.Header)
	}
	steps := []struct {
		at     time.Duration
		check  func() bool
		reason string
	}{
		{150 * time.Millisecond, func() bool { return p.FB.Image.Bounds().Dx() == 32 && at(p, 0, 0) == color.RGBA{} }, "the segment sized the picture, nothing drawn yet"},
		// The full frame began at 200 ms: it is applied whole, though its last bytes came later.
		{200 * time.Millisecond, func() bool { return at(p, 31, 23) == red }, "the red frame, whole"},
		{3 * time.Second, func() bool { return at(p, 7, 7) == green && at(p, 16, 0) == red }, "the green square"},
		{4 * time.Second, func() bool { return at(p, 16, 0) == green && at(p, 23, 7) == green }, "the copy"},
		{5 * time.Second, func() bool { return p.FB.Image.Bounds().Dx() == 40 && at(p, 39, 29) == blue && at(p, 0, 0) == green }, "resized, band drawn, picture kept"},
		{6500 * time.Millisecond, func() bool { return at(p, 0, 0) == green && p.Segments == 1 }, "a message cut by the segment's end is dropped"},
		{8 * time.Second, func() bool { return at(p, 0, 0) == blue && p.Segments == 2 && p.End == nil }, "the takeover's frame"},
		{-1, func() bool {
			return p.Done() && p.End != nil && p.End.Reason == "stopped" && p.Position() == 9*time.Second
		}, "the end"},
	}
	for _, s := range steps {
		if err := p.PlayUntil(s.at); err != nil {
			t.Fatalf("play until %v: %v", s.at, err)
		}
		if !s.check() {
			t.Fatalf("at %v: want %s; pixel(0,0)=%v size=%v", s.at, s.reason, at(p, 0, 0), p.FB.Image.Bounds())
		}
	}
	// Playing to the end in one go gives the same last picture.
	q := open()
	if err := q.PlayUntil(-1); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(q.FB.Image.Pix, p.FB.Image.Pix) {
		t.Fatal("the last frame differs when played in one go")
	}

	// Cut short (a task that died before its last part): the prefix up to a Cut plays; of the
	// message the cut split, the rows that arrived are drawn.
	short := obj.Bytes()[:cutPoint(t, obj.Bytes())]
	r := func() *Player {
		p, err := NewPlayer(bytes.NewReader(short))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}()
	if err := r.PlayUntil(-1); err != nil {
		t.Fatalf("a recording cut short: %v", err)
	}
	if !r.Done() || r.End != nil || at(r, 0, 0) != red {
		t.Fatalf("cut short: done %v end %+v pixel %v", r.Done(), r.End, at(r, 0, 0))
	}
}

// cutPoint is where the first chunk ends.
func cutPoint(t *testing.T, b []byte) int {
	return 4 + int(binary.BigEndian.Uint32(b))
}

// chunk frames raw bytes as one chunk of a recording.
func chunk(raw ...[]byte) []byte {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for _, r := range raw {
		_, _ = zw.Write(r)
	}
	_ = zw.Close()
	return append(binary.BigEndian.AppendUint32(nil, uint32(gz.Len())), gz.Bytes()...)
}

func TestRecordingRefusesOtherInput(t *testing.T) {
	header := func(js string) []byte { return AppendRecord(nil, 0, RecHeader, []byte(js)) }
	var plain bytes.Buffer // a gzip stream without the chunk framing
	zw := gzip.NewWriter(&plain)
	_, _ = zw.Write(header(`{"format":"streamspace-rfb-recording","version":1}`))
	_ = zw.Close()
	for name, in := range map[string][]byte{
		"not a recording": []byte("hello, world"), "empty": nil, "unframed gzip": plain.Bytes(),
		"another format":       chunk(header(`{"format":"something-else","version":1}`)),
		"another version":      chunk(header(`{"format":"streamspace-rfb-recording","version":2}`)),
		"another pixel format": chunk(header(`{"format":"streamspace-rfb-recording","version":1,"pixelFormat":{"bitsPerPixel":16}}`)),
	} {
		if _, err := NewPlayer(bytes.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A record claiming more than MaxRecord is refused before anything is allocated.
	var huge bytes.Buffer
	w := NewRecordingWriter(&huge, time.Now())
	_ = w.Header(RecordingHeader{PixelFormat: RGBA32})
	_ = w.Cut()
	huge.Write(chunk([]byte{0, 0, 0, 1, RecData, 0x7f, 0xff, 0xff, 0xff}))
	rr, err := NewRecordReader(bytes.NewReader(huge.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = rr.Next()
	if _, err := rr.Next(); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("a 2 GiB record: %v", err)
	}
}

// The recorder's skipper finds the same message boundaries the framebuffer does, and follows
// the desktop's size.
func TestSkipperFollowsMessages(t *testing.T) {
	stream := bytes.Join([][]byte{rawUpdate(0, 0, 4, 4, red), {MsgBell}, desktopSizeUpdate(8, 8),
		copyRectUpdate(0, 0, 4, 4, 4, 4), rawUpdate(4, 4, 4, 4, blue)}, nil)
	s := &Skipper{Width: 4, Height: 4}
	r := bufioOf(stream)
	var types []byte
	for {
		typ, err := s.ReadServerMessage(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, typ)
	}
	if !bytes.Equal(types, []byte{0, 2, 0, 0, 0}) || s.Width != 8 || !s.Resized {
		t.Fatalf("types %v size %dx%d", types, s.Width, s.Height)
	}
	if _, err := (&Skipper{Width: 2, Height: 2}).ReadServerMessage(bufioOf(rawUpdate(0, 0, 4, 4, red))); err == nil {
		t.Fatal("a rectangle outside the desktop was skipped")
	}
}

func bufioOf(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// Large updates are split into records and chunks of bounded size, and replay unchanged.
func TestRecordingBoundsRecordsAndChunks(t *testing.T) {
	const w, h = 1024, 768
	msg := rectHeader([]byte{MsgFramebufferUpdate, 0, 0, 1}, 0, 0, w, h, EncRaw)
	pix := make([]byte, 4*w*h)
	_, _ = rand.Read(pix) // incompressible: 3 MiB compressed
	msg = append(msg, pix...)
	var obj bytes.Buffer
	t0 := time.Now()
	rw := NewRecordingWriter(&obj, t0)
	if err := rw.Header(RecordingHeader{PixelFormat: RGBA32}); err != nil {
		t.Fatal(err)
	}
	_ = rw.Segment(t0, RecordingSegment{Width: w, Height: h, Reason: "start"})
	if err := rw.Data(t0.Add(time.Second), msg); err != nil {
		t.Fatal(err)
	}
	if obj.Len() < 2<<20 || rw.Pending() > chunkTarget+maxDataRecord {
		t.Fatalf("%d bytes in whole chunks, %d pending: chunks are not cut as they fill", obj.Len(), rw.Pending())
	}
	_, _ = rw.End(t0.Add(2*time.Second), "done")
	_ = rw.Cut()
	rr, err := NewRecordReader(bytes.NewReader(obj.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	chunks, records := 0, 0
	for b := obj.Bytes(); len(b) > 0; chunks++ {
		b = b[4+binary.BigEndian.Uint32(b):]
	}
	for {
		rec, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Payload) > maxDataRecord {
			t.Fatalf("a record of %d bytes", len(rec.Payload))
		}
		records++
	}
	if chunks < 3 || records < 3+len(msg)/maxDataRecord {
		t.Fatalf("%d chunks, %d records", chunks, records)
	}
	p, err := NewPlayer(bytes.NewReader(obj.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PlayUntil(-1); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(pix); i += 4 {
		if !bytes.Equal(p.FB.Image.Pix[i:i+3], pix[i:i+3]) {
			t.Fatalf("pixel %d differs", i/4)
		}
	}
}
