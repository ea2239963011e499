package vncclient

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
)

// Colours counts the distinct colours on a screen (a browser's window has dozens: text
// antialiasing, icons; a window not painted yet has one).
func Colours(img *image.RGBA) int {
	seen := map[[3]uint8]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			p := img.RGBAAt(x, y)
			seen[[3]uint8{p.R, p.G, p.B}] = true
		}
	}
	return len(seen)
}

// NotBlank says whether a screen shows an application: the desktop's empty screen is one colour
// (Xvfb runs with a black root window), so something else must cover a visible part of it (an
// xterm without a window manager is a white window with black text: two colours).
func NotBlank(img *image.RGBA) error {
	counts := map[[3]uint8]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			p := img.RGBAAt(x, y)
			counts[[3]uint8{p.R, p.G, p.B}]++
		}
	}
	total := b.Dx() * b.Dy()
	var top int
	var bg [3]uint8
	for c, n := range counts {
		if n > top {
			top, bg = n, c
		}
	}
	if total == 0 || len(counts) < 2 || float64(top)/float64(total) > 0.97 {
		return fmt.Errorf("blank: %d colours, the commonest %v covers %.1f%%", len(counts), bg, 100*float64(top)/float64(max(total, 1)))
	}
	return nil
}

// SaveShot writes the screen as <dir>/<name>.png when dir is set (tests pass
// $STREAMSPACE_SCREENSHOTS) and returns the path.
func SaveShot(dir, name string, img *image.RGBA) string {
	if dir == "" {
		return ""
	}
	p := filepath.Join(dir, strings.NewReplacer("/", "-", " ", "-").Replace(name)+".png")
	f, err := os.Create(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	if png.Encode(f, img) != nil {
		return ""
	}
	return p
}
