package rfb

// A recording is what the streaming gateway saw a desktop send, with the time it arrived, so
// that it can be replayed into a Framebuffer (here, the CLI's render) or fed to noVNC (the
// console). docs/recordings.md is the format's reference; in short:
//
//	object = chunk*                      chunk = length:u32be gzip-member[length]
//	the chunks' decompressed bytes, one after the other, are record*; no record spans chunks
//	record = offset:u32be kind:u8 length:u32be payload[length]
//	offset = milliseconds since the recording's origin (header.startedAt), never decreasing
//	kind   = 'H' header (JSON, first and once) | 'S' segment (JSON: a new RFB connection and its
//	         size) | 'D' data (server→client RFB bytes of the current segment) | 'E' end (JSON)
//
// Kinds a reader does not know are skipped, so later versions can add records.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Recording format identifiers.
const (
	RecordingFormat      = "streamspace-rfb-recording"
	RecordingVersion     = 1
	RecordingContentType = "application/vnd.streamspace.rfb-recording"
)

// Record kinds.
const (
	RecHeader  byte = 'H'
	RecSegment byte = 'S'
	RecData    byte = 'D'
	RecEnd     byte = 'E'
)

// MaxRecord bounds one record's payload, MaxChunk one compressed chunk. Writers keep data
// records to maxDataRecord and chunks near chunkTarget; the bounds for readers are larger so a
// reader never refuses what a writer may write.
const (
	MaxRecord     = 1 << 20
	MaxChunk      = 64 << 20
	maxDataRecord = 64 << 10
	chunkTarget   = 1 << 20
)

// RecordingHeader opens a recording.
type RecordingHeader struct {
	Format      string `json:"format"`
	Version     int    `json:"version"`
	RecordingID string `json:"recordingId,omitempty"`
	SessionID   string `json:"sessionId,omitempty"`
	// StartedAt is the wall-clock time of offset 0.
	StartedAt   time.Time   `json:"startedAt"`
	PixelFormat PixelFormat `json:"pixelFormat"`
	// Encodings the recorder asked for: what a replayer must understand.
	Encodings []string `json:"encodings"`
}

// RecordingSegment starts the byte stream of one RFB connection (the first one, or after the
// desktop or the gateway task changed): its framebuffer size and desktop name.
type RecordingSegment struct {
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Name   string `json:"name,omitempty"`
	// Reason: start, reconnect (the desktop's connection was lost and opened again) or
	// takeover (another gateway task continued a recording whose task stopped).
	Reason string `json:"reason"`
}

// RecordingEnd closes a recording; a recording without one was cut short (and still plays).
type RecordingEnd struct {
	Reason     string `json:"reason"`
	DurationMs int64  `json:"durationMs"`
}

// RecordingWriter writes records to w in compressed chunks. A chunk reaches w whole, at Cut
// (or by itself once about 1 MiB compressed): what w holds is then always a complete prefix of
// the recording (the gateway cuts before each part it uploads and each checkpoint).
type RecordingWriter struct {
	w      io.Writer
	member bytes.Buffer
	gz     *gzip.Writer
	origin time.Time
	last   uint32
	dirty  bool
	buf    []byte
}

// NewRecordingWriter writes a recording whose offsets count from origin. BestSpeed: the
// gateway compresses every recorded desktop at once, and screen content compresses well at
// any level.
func NewRecordingWriter(w io.Writer, origin time.Time) *RecordingWriter {
	rw := &RecordingWriter{w: w, origin: origin}
	rw.gz, _ = gzip.NewWriterLevel(&rw.member, gzip.BestSpeed) // a valid level: cannot fail
	return rw
}

// Pending is about how many compressed bytes are not cut yet (the compressor holds some more).
func (rw *RecordingWriter) Pending() int { return rw.member.Len() }

// Offset is at's offset in milliseconds; it never goes backwards (a wall clock may step).
func (rw *RecordingWriter) Offset(at time.Time) uint32 {
	ms := at.Sub(rw.origin).Milliseconds()
	switch {
	case ms < int64(rw.last):
		return rw.last
	case ms > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(ms)
}

func (rw *RecordingWriter) record(at time.Time, kind byte, payload []byte) error {
	off := rw.Offset(at)
	rw.last = off
	rw.buf = AppendRecord(rw.buf[:0], off, kind, payload)
	rw.dirty = true
	if _, err := rw.gz.Write(rw.buf); err != nil {
		return err
	}
	if rw.member.Len() >= chunkTarget {
		return rw.Cut()
	}
	return nil
}

func (rw *RecordingWriter) json(at time.Time, kind byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return rw.record(at, kind, b)
}

// Header writes the header at offset 0 (the first record of a recording).
func (rw *RecordingWriter) Header(h RecordingHeader) error {
	h.Format, h.Version, h.StartedAt = RecordingFormat, RecordingVersion, rw.origin.UTC()
	return rw.json(rw.origin, RecHeader, h)
}

// Segment starts the bytes of a new RFB connection.
func (rw *RecordingWriter) Segment(at time.Time, s RecordingSegment) error {
	return rw.json(at, RecSegment, s)
}

// Data records server→client bytes as they arrived at at.
func (rw *RecordingWriter) Data(at time.Time, b []byte) error {
	for len(b) > 0 {
		n := min(len(b), maxDataRecord)
		if err := rw.record(at, RecData, b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// End closes the recording at at and returns what it wrote.
func (rw *RecordingWriter) End(at time.Time, reason string) (RecordingEnd, error) {
	e := RecordingEnd{Reason: reason, DurationMs: int64(rw.Offset(at))}
	return e, rw.json(at, RecEnd, e)
}

// Cut ends the current chunk and writes it to w.
func (rw *RecordingWriter) Cut() error {
	if !rw.dirty {
		return nil
	}
	if err := rw.gz.Close(); err != nil {
		return err
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(rw.member.Len()))
	if _, err := rw.w.Write(n[:]); err != nil {
		return err
	}
	if _, err := rw.w.Write(rw.member.Bytes()); err != nil {
		return err
	}
	rw.member.Reset()
	rw.gz.Reset(&rw.member)
	rw.dirty = false
	return nil
}

// Continue makes the writer's offsets start no earlier than last (a task that takes over a
// recording continues its timeline).
func (rw *RecordingWriter) Continue(last uint32) { rw.last = max(rw.last, last) }

// AppendRecord appends one record's wire form to b.
func AppendRecord(b []byte, offset uint32, kind byte, payload []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, offset)
	b = append(b, kind)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// Record is one record of a recording.
type Record struct {
	Offset  uint32
	Kind    byte
	Payload []byte
}

// RecordReader reads the records of a recording's object.
type RecordReader struct {
	r      *bufio.Reader
	peeked *Record
	err    error
}

// NewRecordReader reads records from r, the recording's object.
func NewRecordReader(r io.Reader) (*RecordReader, error) {
	c := &chunks{r: r}
	if err := c.next(); err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	return &RecordReader{r: bufio.NewReaderSize(c, 64<<10)}, nil
}

// chunks reads the decompressed bytes of the object's chunks as one stream.
type chunks struct {
	r   io.Reader
	cur *io.LimitedReader
	gz  *gzip.Reader
	err error
}

// next opens the next chunk: io.EOF when there is none, io.ErrUnexpectedEOF when it is cut.
func (c *chunks) next() error {
	if c.cur != nil { // what the decompressor left of the chunk (nothing, from a writer of ours)
		if _, err := io.Copy(io.Discard, c.cur); err != nil {
			return err
		}
	}
	var n [4]byte
	if _, err := io.ReadFull(c.r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > MaxChunk {
		return fmt.Errorf("a chunk of %d bytes", size)
	}
	c.cur = &io.LimitedReader{R: c.r, N: int64(size)}
	var err error
	if c.gz == nil {
		c.gz, err = gzip.NewReader(c.cur)
	} else {
		err = c.gz.Reset(c.cur)
	}
	if err != nil {
		return fmt.Errorf("a chunk that is not gzip: %w", err)
	}
	c.gz.Multistream(false)
	return nil
}

func (c *chunks) Read(p []byte) (int, error) {
	for c.err == nil {
		n, err := c.gz.Read(p)
		if n > 0 {
			return n, nil
		}
		switch {
		case err == io.EOF:
			c.err = c.next()
		case err != nil:
			c.err = io.ErrUnexpectedEOF // a chunk cut short or damaged: the recording ends there
		}
	}
	return 0, c.err
}

// Peek returns the next record without consuming it; io.EOF at the end.
func (rr *RecordReader) Peek() (Record, error) {
	if rr.peeked == nil && rr.err == nil {
		rec, err := rr.read()
		if err != nil {
			rr.err = err
		} else {
			rr.peeked = &rec
		}
	}
	if rr.peeked != nil {
		return *rr.peeked, nil
	}
	return Record{}, rr.err
}

// Next returns the next record; io.EOF at the end, io.ErrUnexpectedEOF within a record.
func (rr *RecordReader) Next() (Record, error) {
	rec, err := rr.Peek()
	rr.peeked = nil
	return rec, err
}

func (rr *RecordReader) read() (Record, error) {
	var h [9]byte
	if _, err := io.ReadFull(rr.r, h[:]); err != nil {
		return Record{}, err // io.EOF only when no byte of a record was there
	}
	n := binary.BigEndian.Uint32(h[5:])
	if n > MaxRecord {
		return Record{}, fmt.Errorf("recording: a record of %d bytes", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(rr.r, p); err != nil {
		return Record{}, io.ErrUnexpectedEOF
	}
	return Record{Offset: binary.BigEndian.Uint32(h[0:]), Kind: h[4], Payload: p}, nil
}

// Player replays a recording into a Framebuffer.
type Player struct {
	Header   RecordingHeader
	FB       *Framebuffer
	Segments int
	// End is set once the end record was read.
	End *RecordingEnd

	rr   *RecordReader
	cur  []byte // the rest of the current data record
	pos  uint32 // offset of the last record consumed
	in   bool   // within a segment
	done bool
}

// errSegmentEnded: the bytes of a segment ended within a message (the desktop went away).
var errSegmentEnded = errors.New("recording: the segment ended within a message")

// NewPlayer reads a recording's header. Only RGBA32 recordings (what the gateway records) play.
func NewPlayer(r io.Reader) (*Player, error) {
	rr, err := NewRecordReader(r)
	if err != nil {
		return nil, err
	}
	rec, err := rr.Next()
	if err != nil {
		return nil, fmt.Errorf("recording: no header: %w", err)
	}
	p := &Player{rr: rr, FB: NewFramebuffer(0, 0)}
	if rec.Kind != RecHeader || json.Unmarshal(rec.Payload, &p.Header) != nil || p.Header.Format != RecordingFormat {
		return nil, errors.New("recording: not a StreamSpace RFB recording")
	}
	if p.Header.Version != RecordingVersion {
		return nil, fmt.Errorf("recording: version %d (this reader knows %d)", p.Header.Version, RecordingVersion)
	}
	if p.Header.PixelFormat != RGBA32 {
		return nil, fmt.Errorf("recording: pixel format %+v (only RGBA32 plays)", p.Header.PixelFormat)
	}
	return p, nil
}

// Position is the offset of the last record played.
func (p *Player) Position() time.Duration { return time.Duration(p.pos) * time.Millisecond }

// Done reports whether the whole recording was played (to its end record, or to where it was
// cut short).
func (p *Player) Done() bool { return p.done }

// PlayUntil applies every message that starts at or before at (negative: to the end). A
// message is applied whole, even when its last bytes arrived a little later.
func (p *Player) PlayUntil(at time.Duration) error {
	limit := int64(at / time.Millisecond)
	for !p.done {
		if len(p.cur) == 0 {
			rec, err := p.rr.Peek()
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				p.done = true // cut short: what was written plays
				return nil
			}
			if err != nil {
				return err
			}
			if at >= 0 && int64(rec.Offset) > limit {
				return nil
			}
			_, _ = p.rr.Next()
			p.pos = rec.Offset
			if err := p.control(rec); err != nil {
				return err
			}
			continue
		}
		if _, err := p.FB.ReadServerMessage(p); err != nil && !errors.Is(err, errSegmentEnded) {
			return fmt.Errorf("recording at %d ms: %w", p.pos, err)
		}
	}
	return nil
}

// control applies a record read between messages.
func (p *Player) control(rec Record) error {
	switch rec.Kind {
	case RecData:
		if !p.in {
			return errors.New("recording: data before any segment")
		}
		p.cur = rec.Payload
	case RecSegment:
		var s RecordingSegment
		if err := json.Unmarshal(rec.Payload, &s); err != nil {
			return fmt.Errorf("recording: segment: %w", err)
		}
		if s.Width < 0 || s.Height < 0 || s.Width > maxSide || s.Height > maxSide {
			return fmt.Errorf("recording: segment of %dx%d", s.Width, s.Height)
		}
		p.FB.resize(s.Width, s.Height)
		p.in = true
		p.Segments++
	case RecEnd:
		var e RecordingEnd
		if err := json.Unmarshal(rec.Payload, &e); err != nil {
			return fmt.Errorf("recording: end: %w", err)
		}
		p.End, p.done = &e, true
	case RecHeader:
		return errors.New("recording: a second header")
	}
	return nil // unknown kinds: from a later version, skipped
}

// fill makes p.cur non-empty with the current segment's next data record.
func (p *Player) fill() error {
	for len(p.cur) == 0 {
		rec, err := p.rr.Peek()
		if err != nil || rec.Kind == RecSegment || rec.Kind == RecEnd || rec.Kind == RecHeader {
			return errSegmentEnded // the next record is handled by PlayUntil
		}
		_, _ = p.rr.Next()
		p.pos = rec.Offset
		if rec.Kind == RecData {
			p.cur = rec.Payload
		}
	}
	return nil
}

// Read, ReadByte and Discard read the current segment's bytes for ReadServerMessage, never
// beyond the message being applied.
func (p *Player) Read(b []byte) (int, error) {
	if err := p.fill(); err != nil {
		return 0, err
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

func (p *Player) ReadByte() (byte, error) {
	if err := p.fill(); err != nil {
		return 0, err
	}
	c := p.cur[0]
	p.cur = p.cur[1:]
	return c, nil
}

func (p *Player) Discard(n int) (int, error) {
	done := 0
	for done < n {
		if err := p.fill(); err != nil {
			return done, err
		}
		k := min(n-done, len(p.cur))
		p.cur = p.cur[k:]
		done += k
	}
	return done, nil
}
