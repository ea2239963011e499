package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"time"

	"streamspace/internal/rfb"
)

// recordingCmd works on gateway recordings (docs/recordings.md), e.g. one downloaded through
// its downloadUrl.
func recordingCmd(args []string) error {
	if len(args) < 1 {
		return errors.New("recording: render or info")
	}
	switch args[0] {
	case "render":
		return renderCmd(args[1:])
	case "info":
		return infoCmd(args[1:])
	}
	return fmt.Errorf("recording %s: render or info", args[0])
}

func openRecording(path string) (*rfb.Player, io.Closer, error) {
	if path == "" {
		return nil, nil, errors.New("-in is required")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	p, err := rfb.NewPlayer(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, f, nil
}

// renderCmd writes the picture at -at (default: the last frame) as a PNG.
func renderCmd(args []string) error {
	fs := flag.NewFlagSet("recording render", flag.ExitOnError)
	in := fs.String("in", "", "the recording (.rfb)")
	out := fs.String("out", "frame.png", "the PNG to write")
	at := fs.Duration("at", -1, "offset of the frame (e.g. 5s); default: the last frame")
	_ = fs.Parse(args)
	p, c, err := openRecording(*in)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := p.PlayUntil(*at); err != nil {
		return err
	}
	if p.FB.Image.Bounds().Empty() {
		return errors.New("the recording holds no picture at that offset")
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := png.Encode(f, p.FB.Image); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("%s: %dx%d at %s\n", *out, p.FB.Image.Bounds().Dx(), p.FB.Image.Bounds().Dy(), p.Position())
	return nil
}

// infoCmd describes a recording: its header, segments and end.
func infoCmd(args []string) error {
	fs := flag.NewFlagSet("recording info", flag.ExitOnError)
	in := fs.String("in", "", "the recording (.rfb)")
	_ = fs.Parse(args)
	p, c, err := openRecording(*in)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := p.PlayUntil(-1); err != nil {
		return err
	}
	h := p.Header
	fmt.Printf("recording %s of session %s, started %s\n", h.RecordingID, h.SessionID, h.StartedAt.Format(time.RFC3339))
	fmt.Printf("segments: %d, last picture %dx%d\n", p.Segments, p.FB.Image.Bounds().Dx(), p.FB.Image.Bounds().Dy())
	if p.End != nil {
		fmt.Printf("ended after %s: %s\n", time.Duration(p.End.DurationMs)*time.Millisecond, p.End.Reason)
	} else {
		fmt.Printf("cut short at %s (no end record)\n", p.Position())
	}
	return nil
}
