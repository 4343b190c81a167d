package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	_ "image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/font/sfnt"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

const patch, minor = "3.5.21→3.5.16", "3.5.21→3.6.5"

// syntheticResults has three methods at 3, 5 and 7 members, both units and
// both client mixes at 3, a second path, and a timeline with stops and a
// failed write.
func syntheticResults() *Results {
	res := &Results{
		Generated: "2026-01-01T00:00:00Z",
		Machine:   Machine{CPUs: 8},
		Settings:  Settings{Runs: 3, Members: []int{3, 5, 7}, Paths: []string{patch, minor}, StableFor: "0s", Writers: 4},
	}
	base := map[string]float64{"provider": 1.6, "manual": 1.5, "floor": 1.1}
	for _, m := range []string{"provider", "manual", "floor"} {
		for _, n := range []int{3, 5, 7} {
			wall := base[m] * float64(n) * 1.4
			res.Summary = append(res.Summary, RolloutSummary{Method: m, Path: patch, Members: n, Unit: "notify", Clients: "writers", Runs: 3,
				WallS: wall, WallMinS: wall - 0.4, WallMaxS: wall + 0.3, StopToHealthyS: base[m], EtcdStopS: 0.3})
		}
		for _, clients := range []string{"writers", "kubernetes"} {
			for _, unit := range []string{"notify", "simple"} {
				if clients == "writers" && unit == "notify" {
					continue
				}
				res.Summary = append(res.Summary, RolloutSummary{Method: m, Path: patch, Members: 3, Unit: unit, Clients: clients, Runs: 3,
					WallS: 6, WallMinS: 5.5, WallMaxS: 6.5, StopToHealthyS: base[m] + 0.4, EtcdStopS: 0.9})
			}
		}
		res.Summary = append(res.Summary, RolloutSummary{Method: m, Path: minor, Members: 3, Unit: "notify", Clients: "writers", Runs: 3, WallS: 3 * base[m] * 1.6})
	}
	res.Timeline, res.TimelineStops = timeline()
	return res
}

func timeline() (map[string][]Bucket, map[string][]StopEvent) {
	tl, stops := map[string][]Bucket{}, map[string][]StopEvent{}
	for mi, m := range []string{"provider", "manual", "floor"} {
		for i := range 60 {
			b := Bucket{T: float64(i) / 10, MaxMs: 3 + float64((i*7+mi)%11), Acked: 25}
			switch i {
			case 20:
				b.MaxMs = 850
			case 21:
				b.Acked, b.MaxMs, b.Failed = 0, 0, 3
			}
			tl[m] = append(tl[m], b)
		}
		for j, member := range []string{"s1", "s2", "s3"} {
			stops[m] = append(stops[m], StopEvent{T: 1 + float64(j)*1.4 + float64(mi)*0.2, Member: member})
		}
	}
	return tl, stops
}

// drawAndRead draws res and decodes the PNG.
func drawAndRead(t *testing.T, res *Results) image.Image {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out", "chart.png")
	if err := drawChart(path, res); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, format, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); format != "png" || b.Dx() != chartW || b.Dy() != chartH {
		t.Fatalf("%s of %dx%d, want png of %dx%d", format, b.Dx(), b.Dy(), chartW, chartH)
	}
	return img
}

// colours counts the pixels of each colour.
func colours(img image.Image) map[color.RGBA]int {
	n := map[color.RGBA]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			n[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}]++
		}
	}
	return n
}

func TestDrawChartSynthetic(t *testing.T) {
	n := colours(drawAndRead(t, syntheticResults()))
	if len(n) < 200 {
		t.Errorf("%d distinct colours: the chart looks blank", len(n))
	}
	// Bars are filled with the method's colour, the etcd stop inside them
	// with its darker shade.
	for _, m := range []string{"provider", "manual", "floor"} {
		c := methodColours[m]
		if n[c] < 2000 {
			t.Errorf("%s: %d pixels of its colour %v, want its bars", m, n[c], c)
		}
		if n[darker(c)] < 500 {
			t.Errorf("%s: %d pixels of its etcd stop colour, want the etcd stop bars", m, n[darker(c)])
		}
	}
}

// TestDrawChartCommittedResults draws bench/results.json, the run the README
// shows: every method and etcd's own stop are in it.
func TestDrawChartCommittedResults(t *testing.T) {
	n := colours(drawAndRead(t, readResults(t, filepath.Join("..", "..", "bench", "results.json"))))
	for _, m := range []string{"provider", "manual", "floor"} {
		if n[methodColours[m]] < 2000 {
			t.Errorf("%s: %d pixels of its colour", m, n[methodColours[m]])
		}
	}
	if n[darker(methodColours["provider"])] < 200 {
		t.Errorf("provider's etcd stop: %d pixels, want its bars", n[darker(methodColours["provider"])])
	}
}

// TestDrawChartOlderResults: results written before the floor, the unit
// behaviours and etcd's own stop were measured still draw, without them.
func TestDrawChartOlderResults(t *testing.T) {
	n := colours(drawAndRead(t, readResults(t, filepath.Join("testdata", "results-before-floor.json"))))
	for _, m := range []string{"provider", "manual"} {
		if n[methodColours[m]] < 2000 {
			t.Errorf("%s: %d pixels of its colour", m, n[methodColours[m]])
		}
	}
	if n[methodColours["floor"]] != 0 || n[darker(methodColours["provider"])] > 200 {
		t.Errorf("floor pixels %d, provider etcd stop pixels %d: want none", n[methodColours["floor"]], n[darker(methodColours["provider"])])
	}
}

func readResults(t *testing.T, path string) *Results {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return &res
}

func TestDrawChartTimelineOnly(t *testing.T) {
	tl, stops := timeline()
	delete(tl, "floor")
	n := colours(drawAndRead(t, &Results{Timeline: tl, TimelineStops: stops}))
	// Lines are antialiased: some pixels keep the exact colour.
	if n[methodColours["provider"]] < 50 || n[methodColours["manual"]] < 50 {
		t.Errorf("provider %d and manual %d pixels: want their lines", n[methodColours["provider"]], n[methodColours["manual"]])
	}
}

// TestDrawChartEmpty: nothing measured still draws every panel, saying so.
func TestDrawChartEmpty(t *testing.T) {
	img := drawAndRead(t, &Results{})
	if b := img.Bounds(); b.Dx() != chartW || b.Dy() != chartH {
		t.Errorf("empty chart is %dx%d, want %dx%d", b.Dx(), b.Dy(), chartW, chartH)
	}
}

func TestChartPatchPath(t *testing.T) {
	res := syntheticResults()
	if d := newChartData(res); d.path != patch || fmt.Sprint(d.methods) != "[provider manual floor]" {
		t.Errorf("path %q, methods %v", d.path, d.methods)
	}
	// Without settings: the most common path.
	res.Settings.Paths = nil
	if d := newChartData(res); d.path != patch {
		t.Errorf("path %q, want %q", d.path, patch)
	}
	if got := newChartData(res).otherPaths(); len(got) != 3 || got[0].Path != minor {
		t.Errorf("other paths %+v", got)
	}
}

// The chart's text is not cut down to ASCII: the font must have its glyphs.
func TestChartFontHasGlyphs(t *testing.T) {
	face := plot.DefaultTextHandler.Cache().Lookup(sansFont, vg.Points(12))
	var buf sfnt.Buffer
	for _, r := range "→÷–·×" {
		if i, err := face.Face.GlyphIndex(&buf, r); err != nil || i == 0 {
			t.Errorf("%q: no glyph in %s (%v)", r, face.Name(), err)
		}
	}
}
