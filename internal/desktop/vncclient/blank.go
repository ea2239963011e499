package vncclient

import (
	"fmt"
	"image"
)

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
