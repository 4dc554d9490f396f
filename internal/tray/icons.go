package tray

import (
	"embed"
	"fmt"
)

// The icons are drawn once by icons/gen.go and committed, so a build needs
// no generator and every platform shows the same pixels.
//
//go:generate sh -c "cd icons && go run gen.go"
//go:embed icons/*.png
var iconFS embed.FS

// IconPNG returns the icon's PNG: the coloured one, or with template true the
// monochrome one that macOS tints to match the menu bar.
func IconPNG(i Icon, template bool) ([]byte, error) {
	name := i.name()
	if name == "" {
		return nil, fmt.Errorf("tray: no icon %v", i)
	}
	if template {
		name += "-template"
	}
	b, err := iconFS.ReadFile("icons/" + name + ".png")
	if err != nil {
		return nil, fmt.Errorf("tray: icon %s: %w", name, err)
	}
	return b, nil
}

// useTemplate says whether an icon is shown as a macOS template image. The
// states that need the user keep their colour so they stand out in the bar.
func useTemplate(i Icon) bool {
	return i != IconLoginRequired && i != IconError
}
