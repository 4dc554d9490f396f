//go:build ignore

// gen draws the tray icons: a coloured disc with a white glyph per state, and
// a template variant (black disc, glyph cut out) for the macOS menu bar,
// which tints template images itself. Run from this directory:
//
//	go run gen.go
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

const (
	size = 32 // px; hosts scale it (SNI panels ask for 16–24, a Retina menu bar 36–44)
	ss   = 4  // supersampling per axis, for antialiased edges
)

type glyph func(x, y float64) bool // x, y in [-1, 1], y down

func seg(x, y, x0, y0, x1, y1, w float64) bool {
	dx, dy := x1-x0, y1-y0
	t := ((x-x0)*dx + (y-y0)*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	px, py := x0+t*dx-x, y0+t*dy-y
	return px*px+py*py <= w*w
}

var icons = []struct {
	name  string
	disc  color.NRGBA
	glyph glyph
}{
	{"idle", color.NRGBA{0x2b, 0x7b, 0xc0, 0xff}, func(x, y float64) bool { // check mark
		return seg(x, y, -0.45, 0.02, -0.12, 0.35, 0.12) || seg(x, y, -0.12, 0.35, 0.45, -0.3, 0.12)
	}},
	{"backing-up", color.NRGBA{0x2b, 0x7b, 0xc0, 0xff}, func(x, y float64) bool { // up arrow
		return seg(x, y, 0, -0.5, 0, 0.5, 0.12) || seg(x, y, 0, -0.5, -0.35, -0.12, 0.12) || seg(x, y, 0, -0.5, 0.35, -0.12, 0.12)
	}},
	{"paused", color.NRGBA{0x70, 0x76, 0x7d, 0xff}, func(x, y float64) bool { // two bars
		return (math.Abs(x+0.2) <= 0.1 || math.Abs(x-0.2) <= 0.1) && math.Abs(y) <= 0.42
	}},
	{"login-required", color.NRGBA{0xe0, 0x8e, 0x0b, 0xff}, func(x, y float64) bool { // exclamation mark
		return seg(x, y, 0, -0.5, 0, 0.12, 0.12) || math.Hypot(x, y-0.4) <= 0.13
	}},
	{"error", color.NRGBA{0xc6, 0x28, 0x28, 0xff}, func(x, y float64) bool { // cross
		return seg(x, y, -0.38, -0.38, 0.38, 0.38, 0.12) || seg(x, y, -0.38, 0.38, 0.38, -0.38, 0.12)
	}},
}

func main() {
	for _, ic := range icons {
		regular := image.NewNRGBA(image.Rect(0, 0, size, size))
		template := image.NewNRGBA(image.Rect(0, 0, size, size))
		for py := range size {
			for px := range size {
				var disc, mark int
				for sy := range ss {
					for sx := range ss {
						x := (float64(px)+(float64(sx)+0.5)/ss)/size*2 - 1
						y := (float64(py)+(float64(sy)+0.5)/ss)/size*2 - 1
						if x*x+y*y <= 0.94*0.94 {
							disc++
							if ic.glyph(x, y) {
								mark++
							}
						}
					}
				}
				n := float64(ss * ss)
				d, m := float64(disc)/n, float64(mark)/n
				// Regular: disc colour, glyph white on top.
				if d > 0 {
					mix := func(c uint8) uint8 { return uint8(math.Round(float64(c)*(d-m)/d + 255*m/d)) }
					regular.SetNRGBA(px, py, color.NRGBA{mix(ic.disc.R), mix(ic.disc.G), mix(ic.disc.B), uint8(math.Round(255 * d))})
				}
				// Template: black where the disc is, transparent where the glyph is.
				template.SetNRGBA(px, py, color.NRGBA{0, 0, 0, uint8(math.Round(255 * (d - m)))})
			}
		}
		write(ic.name+".png", regular)
		write(ic.name+"-template.png", template)
	}
}

func write(name string, img image.Image) {
	f, err := os.Create(name)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
