package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// The chart is drawn with basic shapes: two panels side by side, each with
// axes, ticks, grid lines and a legend.
const (
	chartW, chartH = 1400, 620
)

var (
	white    = color.RGBA{255, 255, 255, 255}
	black    = color.RGBA{30, 30, 30, 255}
	gray     = color.RGBA{120, 120, 120, 255}
	gridGray = color.RGBA{228, 228, 228, 255}
	palette  = map[string]color.RGBA{
		"provider": {31, 119, 180, 255}, // blue
		"manual":   {255, 127, 14, 255}, // orange
	}
	altPalette = map[string]color.RGBA{
		"provider": {23, 190, 207, 255}, // cyan
		"manual":   {188, 128, 45, 255}, // brown
	}
)

var asciiOnly = strings.NewReplacer("→", "->", "÷", "/", "≤", "<=", "≥", ">=", "–", "-")

type series struct {
	label  string
	col    color.RGBA
	xs, ys []float64
	lo, hi []float64 // optional whiskers
	// breaks[i] says the line does not join point i-1 to point i.
	breaks []bool
	marks  bool
}

type panel struct {
	title          string
	xLabel, yLabel string
	r              image.Rectangle // plot area
	x0, x1, y0, y1 float64
	yLog           bool
	legendRight    bool
	xTicks         []float64
	xTickLabel     func(float64) string
}

func (p *panel) px(x float64) int {
	return p.r.Min.X + int(math.Round((x-p.x0)/(p.x1-p.x0)*float64(p.r.Dx())))
}

func (p *panel) py(y float64) int {
	if p.yLog {
		y = math.Log10(math.Max(y, p.y0))
		return p.r.Max.Y - int(math.Round((y-math.Log10(p.y0))/(math.Log10(p.y1)-math.Log10(p.y0))*float64(p.r.Dy())))
	}
	return p.r.Max.Y - int(math.Round((y-p.y0)/(p.y1-p.y0)*float64(p.r.Dy())))
}

// drawChart writes the PNG: rollout wall time by member count for both
// methods, and write latency over one rollout for both.
func drawChart(path string, res *Results) error {
	img := image.NewRGBA(image.Rect(0, 0, chartW, chartH))
	draw.Draw(img, img.Bounds(), image.NewUniform(white), image.Point{}, draw.Src)
	drawText(img, 20, 28, "terraform-provider-etcd vs etcd's guide by hand (scripts/manual-rollout.sh)", black, 2)
	drawText(img, 20, 50, fmt.Sprintf("%s; %d run(s) per point; stability wait %s for both; %d CPUs", res.Generated, res.Settings.Runs, res.Settings.StableFor, res.Machine.CPUs), gray, 1)

	left := &panel{title: "Rollout wall time by cluster size (median, whiskers min-max)", xLabel: "members", yLabel: "seconds",
		r: image.Rect(90, 100, 660, 540)}
	right := &panel{title: "Write latency during one 3-member rollout (max per 100 ms)", xLabel: "seconds since the command started", yLabel: "ms (log)",
		r: image.Rect(790, 100, 1360, 540), yLog: true, legendRight: true}

	// Left: wall time by members.
	var ls []series
	paths := res.Settings.Paths
	for pi, path := range paths {
		for _, method := range []string{"provider", "manual"} {
			s := series{label: method, col: palette[method], marks: true}
			if pi > 0 {
				s.col = altPalette[method]
			}
			if len(paths) > 1 {
				s.label = method + " " + path
			}
			for _, sum := range res.Summary {
				if sum.Method == method && sum.Path == path && sum.Runs > 0 {
					s.xs = append(s.xs, float64(sum.Members))
					s.ys = append(s.ys, sum.WallS)
					s.lo = append(s.lo, sum.WallMinS)
					s.hi = append(s.hi, sum.WallMaxS)
				}
			}
			sortSeries(&s)
			if len(s.xs) > 0 {
				ls = append(ls, s)
			}
		}
	}
	var membersSeen, ymax []float64
	for _, s := range ls {
		membersSeen = append(membersSeen, s.xs...)
		ymax = append(ymax, s.hi...)
	}
	slices.Sort(membersSeen)
	membersSeen = slices.Compact(membersSeen)
	if len(membersSeen) > 0 {
		left.x0, left.x1 = membersSeen[0]-1, membersSeen[len(membersSeen)-1]+1
		left.xTicks = membersSeen
	} else {
		left.x0, left.x1 = 2, 8
	}
	left.y0, left.y1 = 0, niceCeil(maxOf(ymax)*1.1)
	left.xTickLabel = func(x float64) string { return fmt.Sprintf("%.0f", x) }
	drawPanel(img, left, ls)

	// Right: latency over time, with each member's stop and failed writes.
	var rs []series
	tmax, lmin, lmax := 1.0, math.Inf(1), 10.0
	type mark struct {
		t     float64
		label string
	}
	fails, stops := map[string][]mark{}, map[string][]mark{}
	var methods []string
	for _, m := range []string{"provider", "manual"} {
		if _, ok := res.Timeline[m]; ok {
			methods = append(methods, m)
		}
	}
	for _, method := range methods {
		s := series{label: method, col: palette[method]}
		gap := false
		for _, b := range res.Timeline[method] {
			tmax = math.Max(tmax, b.T+0.1)
			if b.Failed > 0 {
				fails[method] = append(fails[method], mark{t: b.T + 0.05})
			}
			if b.Acked == 0 {
				gap = true
				continue
			}
			s.xs = append(s.xs, b.T+0.05)
			s.ys = append(s.ys, b.MaxMs)
			s.breaks = append(s.breaks, gap)
			gap = false
			lmin, lmax = math.Min(lmin, b.MaxMs), math.Max(lmax, b.MaxMs)
		}
		for _, st := range res.TimelineStops[method] {
			stops[method] = append(stops[method], mark{t: st.T, label: st.Member})
		}
		if len(s.xs) > 0 {
			rs = append(rs, s)
		}
	}
	if math.IsInf(lmin, 1) {
		lmin = 1
	}
	right.x0, right.x1 = 0, niceCeil(tmax)
	right.xTicks = linearTicks(right.x0, right.x1)
	right.xTickLabel = func(x float64) string { return fmt.Sprintf("%g", x) }
	right.y0, right.y1 = math.Pow(10, math.Floor(math.Log10(lmin))), math.Pow(10, math.Ceil(math.Log10(lmax)))
	drawPanel(img, right, rs)
	for i, method := range methods {
		col := palette[method]
		for _, f := range fails[method] {
			// Above the plot area, one row per method.
			drawCross(img, right.px(f.t), right.r.Min.Y-14+9*i, 3, col)
		}
		// Stops: a tick up from the x axis and the member's name, one row
		// per method.
		y := right.r.Max.Y - 10 - 16*i
		for _, st := range stops[method] {
			x := right.px(st.t)
			vline(img, x, y-6, right.r.Max.Y, col)
			vline(img, x+1, y-6, right.r.Max.Y, col)
			drawText(img, x+4, y, st.label, col, 1)
		}
	}
	if len(rs) > 0 {
		drawText(img, right.r.Min.X-40, right.r.Max.Y+54, "x above the plot: failed write(s) in that 100 ms; tick up from the axis: that member stopped", gray, 1)
		drawText(img, right.r.Min.X-40, right.r.Max.Y+70, "a break in a line: no write acknowledged in that 100 ms", gray, 1)
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func sortSeries(s *series) {
	idx := make([]int, len(s.xs))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return s.xs[idx[a]] < s.xs[idx[b]] })
	reorder := func(v []float64) []float64 {
		if v == nil {
			return nil
		}
		out := make([]float64, len(v))
		for i, j := range idx {
			out[i] = v[j]
		}
		return out
	}
	s.xs, s.ys, s.lo, s.hi = reorder(s.xs), reorder(s.ys), reorder(s.lo), reorder(s.hi)
}

func drawPanel(img *image.RGBA, p *panel, ss []series) {
	drawText(img, p.r.Min.X, p.r.Min.Y-30, p.title, black, 1)
	// Grid and y ticks.
	var yTicks []float64
	if p.yLog {
		for v := p.y0; v <= p.y1*1.001; v *= 10 {
			yTicks = append(yTicks, v)
		}
	} else {
		yTicks = linearTicks(p.y0, p.y1)
	}
	for _, v := range yTicks {
		y := p.py(v)
		hline(img, p.r.Min.X, p.r.Max.X, y, gridGray)
		hline(img, p.r.Min.X-5, p.r.Min.X, y, black)
		label := fmt.Sprintf("%g", v)
		drawText(img, p.r.Min.X-10-7*len(label), y+4, label, black, 1)
	}
	for _, v := range p.xTicks {
		x := p.px(v)
		vline(img, x, p.r.Min.Y, p.r.Max.Y, gridGray)
		vline(img, x, p.r.Max.Y, p.r.Max.Y+5, black)
		label := p.xTickLabel(v)
		drawText(img, x-7*len(label)/2, p.r.Max.Y+18, label, black, 1)
	}
	// Axes.
	hline(img, p.r.Min.X, p.r.Max.X, p.r.Max.Y, black)
	vline(img, p.r.Min.X, p.r.Min.Y, p.r.Max.Y, black)
	drawText(img, p.r.Min.X+p.r.Dx()/2-7*len(p.xLabel)/2, p.r.Max.Y+36, p.xLabel, black, 1)
	drawText(img, p.r.Min.X-80, p.r.Min.Y-6, p.yLabel, black, 1)

	if len(ss) == 0 {
		drawText(img, p.r.Min.X+20, p.r.Min.Y+p.r.Dy()/2, "not measured in this run", gray, 1)
		return
	}
	for si, s := range ss {
		for i := range s.xs {
			x, y := p.px(s.xs[i]), p.py(s.ys[i])
			if i > 0 && (s.breaks == nil || !s.breaks[i]) {
				thickLine(img, p.px(s.xs[i-1]), p.py(s.ys[i-1]), x, y, s.col)
			}
			if s.lo != nil {
				lo, hi := p.py(s.lo[i]), p.py(s.hi[i])
				vline(img, x, hi, lo, s.col)
				hline(img, x-5, x+5, hi, s.col)
				hline(img, x-5, x+5, lo, s.col)
			}
			if s.marks {
				fillRect(img, image.Rect(x-4, y-4, x+5, y+5), s.col)
				// Alternate series label above and below their points, so
				// close values stay readable.
				dy := -8
				if si%2 == 1 {
					dy = 18
				}
				drawText(img, x+8, y+dy, fmt.Sprintf("%.1fs", s.ys[i]), s.col, 1)
			}
		}
	}
	// Legend, top left inside the plot.
	w := 0
	for _, s := range ss {
		w = max(w, len(s.label))
	}
	lx, ly := p.r.Min.X+12, p.r.Min.Y+12
	if p.legendRight {
		lx = p.r.Max.X - 7*w - 60
	}
	box := image.Rect(lx-6, ly-6, lx+40+7*w+8, ly+18*len(ss)+2)
	fillRect(img, box, white)
	strokeRect(img, box, gray)
	for i, s := range ss {
		y := ly + 18*i + 6
		thickLine(img, lx, y, lx+28, y, s.col)
		drawText(img, lx+36, y+4, s.label, black, 1)
	}
}

// linearTicks gives about five round ticks from lo to hi.
func linearTicks(lo, hi float64) []float64 {
	step := niceStep((hi - lo) / 5)
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step/1000; v += step {
		out = append(out, round3(v))
	}
	return out
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	exp := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*exp {
			return m * exp
		}
	}
	return 10 * exp
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	step := niceStep(v / 5)
	return math.Ceil(v/step) * step
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	if x0 > x1 {
		x0, x1 = x1, x0
	}
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	if y0 > y1 {
		y0, y1 = y1, y0
	}
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

func fillRect(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

func strokeRect(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	hline(img, r.Min.X, r.Max.X, r.Min.Y, c)
	hline(img, r.Min.X, r.Max.X, r.Max.Y, c)
	vline(img, r.Min.X, r.Min.Y, r.Max.Y, c)
	vline(img, r.Max.X, r.Min.Y, r.Max.Y, c)
}

func drawCross(img *image.RGBA, x, y, r int, c color.RGBA) {
	thickLine(img, x-r, y-r, x+r, y+r, c)
	thickLine(img, x-r, y+r, x+r, y-r, c)
}

// thickLine draws a 2-pixel line with Bresenham's algorithm.
func thickLine(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		img.SetRGBA(x0+1, y0, c)
		img.SetRGBA(x0, y0+1, c)
		img.SetRGBA(x0+1, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// drawText writes s with its baseline at y, scaled up by whole pixels.
func drawText(img *image.RGBA, x, y int, s string, c color.RGBA, scale int) {
	s = asciiOnly.Replace(s) // the bitmap font has ASCII only
	face := basicfont.Face7x13
	if scale <= 1 {
		d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: face, Dot: fixed.P(x, y)}
		d.DrawString(s)
		return
	}
	w := font.MeasureString(face, s).Ceil()
	small := image.NewRGBA(image.Rect(0, 0, w, 13))
	d := &font.Drawer{Dst: small, Src: image.NewUniform(c), Face: face, Dot: fixed.P(0, 10)}
	d.DrawString(s)
	for sy := 0; sy < 13; sy++ {
		for sx := 0; sx < w; sx++ {
			if small.RGBAAt(sx, sy).A == 0 {
				continue
			}
			fillRect(img, image.Rect(x+sx*scale, y-10*scale+sy*scale, x+(sx+1)*scale, y-10*scale+(sy+1)*scale), c)
		}
	}
}
