package main

import (
	"cmp"
	"errors"
	"fmt"
	"image/color"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The chart is one PNG of chartW×chartH pixels: a header, then the rollout
// time by cluster size beside the per-member stop time, then the write
// latency over one rollout (beside the other paths' rollout time, if any).
const (
	chartW, chartH = 1600, 1400
	chartDPI       = 96
)

var (
	// methodOrder is the order of the methods in legends and bar groups;
	// a method not listed comes after them, by name.
	methodOrder   = []string{"provider", "manual", "floor"}
	methodColours = map[string]color.RGBA{
		"provider": {31, 119, 180, 255}, // blue
		"manual":   {255, 127, 14, 255}, // orange
		"floor":    {44, 160, 44, 255},  // green
	}
	otherColours = []color.RGBA{{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}}
	textGray     = color.RGBA{90, 90, 90, 255}
	sansFont     = font.Font{Typeface: "Liberation", Variant: "Sans"}
)

// px converts pixels of the PNG to the canvas' points.
func px(n float64) vg.Length { return vg.Length(n) * vg.Inch / chartDPI }

func textStyle(size float64, c color.Color) text.Style {
	return text.Style{Color: c, Font: font.From(sansFont, vg.Points(size)), Handler: plot.DefaultTextHandler}
}

func methodColour(method string, methods []string) color.RGBA {
	if c, ok := methodColours[method]; ok {
		return c
	}
	i := slices.Index(methods, method)
	return otherColours[max(i, 0)%len(otherColours)]
}

// darker is c at half its brightness: etcd's own stop inside a method's bar.
func darker(c color.RGBA) color.RGBA { return color.RGBA{c.R / 2, c.G / 2, c.B / 2, 255} }

func sortMethods(ms []string) []string {
	ms = slices.Compact(slices.Sorted(slices.Values(ms)))
	slices.SortStableFunc(ms, func(a, b string) int {
		ia, ib := slices.Index(methodOrder, a), slices.Index(methodOrder, b)
		if ia < 0 {
			ia = len(methodOrder)
		}
		if ib < 0 {
			ib = len(methodOrder)
		}
		return cmp.Compare(ia, ib)
	})
	return ms
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// chartData is what the panels show, picked from the results.
type chartData struct {
	res     *Results
	path    string // the patch path
	methods []string
	sums    []RolloutSummary // completed, fresh clusters; unit and clients filled in
}

func newChartData(res *Results) *chartData {
	d := &chartData{res: res}
	var ms []string
	for _, s := range res.Summary {
		if s.Runs == 0 || s.DataMiB != 0 {
			continue
		}
		s.Unit, s.Clients = orDefault(s.Unit, "notify"), orDefault(s.Clients, "writers")
		d.sums = append(d.sums, s)
		ms = append(ms, s.Method)
	}
	for m := range res.Timeline {
		ms = append(ms, m)
	}
	d.methods = sortMethods(ms)
	if len(res.Settings.Paths) > 0 {
		d.path = res.Settings.Paths[0]
	} else {
		count := map[string]int{}
		for _, s := range d.sums {
			count[s.Path]++
			if count[s.Path] > count[d.path] {
				d.path = s.Path
			}
		}
	}
	return d
}

func (d *chartData) colour(method string) color.RGBA { return methodColour(method, d.methods) }

// pick returns the summaries keep accepts.
func (d *chartData) pick(keep func(RolloutSummary) bool) []RolloutSummary {
	var out []RolloutSummary
	for _, s := range d.sums {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// barSize is the cluster size of the bar panels: 3 members, else the
// smallest measured.
func barSize(ss []RolloutSummary) int {
	size := 0
	for _, s := range ss {
		if s.Members == 3 {
			return 3
		}
		if size == 0 || s.Members < size {
			size = s.Members
		}
	}
	return size
}

// drawChart writes the PNG: rollout time by cluster size, per-member stop
// time by client mix and unit, and write latency over one rollout.
func drawChart(path string, res *Results) error {
	d := newChartData(res)
	img := vgimg.NewWith(vgimg.UseWH(px(chartW), px(chartH)), vgimg.UseDPI(chartDPI))
	c := draw.New(img)

	var about []string
	for _, a := range []struct {
		ok   bool
		text string
	}{
		{res.Generated != "", res.Generated},
		{res.Settings.Runs > 0, fmt.Sprintf("%d run(s) per point", res.Settings.Runs)},
		{res.Settings.StableFor != "", "stability wait " + res.Settings.StableFor},
		{res.Machine.CPUs > 0, fmt.Sprintf("%d CPUs", res.Machine.CPUs)},
		{res.Settings.Writers > 0, fmt.Sprintf("%d writer clients", res.Settings.Writers)},
	} {
		if a.ok {
			about = append(about, a.text)
		}
	}
	head := "terraform-provider-etcd rollouts: the provider and etcd's guide by a script (manual)"
	if slices.Contains(d.methods, "floor") {
		head = "terraform-provider-etcd rollouts: the provider, etcd's guide by a script (manual) and the physical floor"
		about = append(about, "floor: only stop, swap, start and gate, run on the host")
	}
	body := panelHead(draw.Crop(c, px(20), -px(28), px(14), -px(16)), head, 20, 13, strings.Join(about, " · "))
	rows := draw.Tiles{Rows: 2, Cols: 1, PadY: px(44), PadTop: px(18)}
	top, bottom := rows.At(body, 0, 0), rows.At(body, 0, 1)
	left, right := splitX(top, 0.42, px(56))
	var err error
	if others := d.otherPaths(); len(others) > 0 {
		tl, op := splitX(bottom, 0.74, px(56))
		err = errors.Join(d.drawTimeline(tl), d.drawOtherPaths(op, others))
	} else {
		err = d.drawTimeline(bottom)
	}
	if err = errors.Join(err, d.drawWallBySize(left), d.drawStopBars(right)); err != nil {
		return err
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// splitX cuts c at frac of its width, gap apart.
func splitX(c draw.Canvas, frac float64, gap vg.Length) (left, right draw.Canvas) {
	w := c.Max.X - c.Min.X
	at := c.Min.X + vg.Length(frac)*w
	return draw.Crop(c, 0, at-gap/2-c.Max.X, 0, 0), draw.Crop(c, at+gap/2-c.Min.X, 0, 0, 0)
}

// panelHead writes a panel's title and lines under it, and returns the
// canvas left below them.
func panelHead(c draw.Canvas, title string, titleSize, lineSize float64, lines ...string) draw.Canvas {
	t := textStyle(titleSize, color.Black)
	t.YAlign = draw.YTop
	c.FillText(t, vg.Point{X: c.Min.X, Y: c.Max.Y}, title)
	y := c.Max.Y - px(titleSize*1.6)
	s := textStyle(lineSize, textGray)
	s.YAlign = draw.YTop
	for _, l := range lines {
		c.FillText(s, vg.Point{X: c.Min.X, Y: y}, l)
		y -= px(lineSize * 1.5)
	}
	return draw.Crop(c, 0, 0, 0, y-c.Max.Y-px(6))
}

// noData says in the middle of c why a panel is empty.
func noData(c draw.Canvas, why string) {
	s := textStyle(14, textGray)
	s.XAlign, s.YAlign = draw.XCenter, draw.YCenter
	c.FillText(s, c.Center(), why)
}

func newPlot(xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.X.Label.TextStyle.Font = font.From(sansFont, vg.Points(13))
	p.Y.Label.TextStyle.Font = font.From(sansFont, vg.Points(13))
	p.X.Tick.Label.Font = font.From(sansFont, vg.Points(12))
	p.Y.Tick.Label.Font = font.From(sansFont, vg.Points(12))
	p.Legend.TextStyle.Font = font.From(sansFont, vg.Points(12))
	p.Legend.Padding = vg.Points(3)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = color.Gray{Y: 225}, color.Gray{Y: 225}
	g.Vertical.Width, g.Horizontal.Width = vg.Points(0.75), vg.Points(0.75)
	p.Add(g)
	return p
}

// drawWithLegend draws p on the left of c and l in a column on its right.
func drawWithLegend(c draw.Canvas, p *plot.Plot, l plot.Legend) {
	l.Top, l.Left = true, true
	w := l.Rectangle(c).Size().X + px(16)
	p.Draw(draw.Crop(c, 0, -w, 0, 0))
	l.Draw(draw.Crop(c, c.Max.X-c.Min.X-w+px(16), 0, 0, -px(8)))
}

func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(sansFont, vg.Points(12))
	l.Padding = vg.Points(4)
	return l
}

func lineStyle(c color.Color, width float64, dashes ...vg.Length) draw.LineStyle {
	return draw.LineStyle{Color: c, Width: vg.Points(width), Dashes: dashes}
}

// xyErrs is the points and whiskers of plotter.NewYErrorBars.
type xyErrs struct {
	plotter.XYs
	plotter.YErrors
}

// drawWallBySize: the patch path's median wall time by cluster size, one
// line per method, whiskers min to max.
func (d *chartData) drawWallBySize(c draw.Canvas) error {
	ss := d.pick(func(s RolloutSummary) bool {
		return s.Path == d.path && s.Unit == "notify" && s.Clients == "writers"
	})
	slices.SortFunc(ss, func(a, b RolloutSummary) int { return cmp.Compare(a.Members, b.Members) })
	bySize := map[string]map[int]float64{}
	for _, s := range ss {
		if bySize[s.Method] == nil {
			bySize[s.Method] = map[int]float64{}
		}
		bySize[s.Method][s.Members] = s.WallS
	}
	var ratios []string
	if pm, mm := bySize["provider"], bySize["manual"]; pm != nil && mm != nil {
		var rs []string
		for _, n := range slices.Sorted(maps.Keys(pm)) {
			if mm[n] > 0 {
				rs = append(rs, fmt.Sprintf("%.2f at %d", pm[n]/mm[n], n))
			}
		}
		if len(rs) > 0 {
			ratios = append(ratios, "provider ÷ manual: "+strings.Join(rs, ", ")+" members")
		}
	}
	const title = "Rollout time by cluster size"
	if len(ss) == 0 {
		noData(panelHead(c, title, 16, 12), "no completed rollouts of the patch path in these results")
		return nil
	}
	c = panelHead(c, title, 16, 12,
		append([]string{fmt.Sprintf("path %s, unit notify, writers only · median wall time, whiskers min–max", d.path)}, ratios...)...)
	p := newPlot("members", "seconds")
	var sizes []int
	ymax := 0.0
	type label struct {
		x, y   float64
		text   string
		colour color.Color
	}
	var labels []label
	for _, m := range d.methods {
		var pts plotter.XYs
		var errs plotter.YErrors
		for _, s := range ss {
			if s.Method != m {
				continue
			}
			pts = append(pts, plotter.XY{X: float64(s.Members), Y: s.WallS})
			errs = append(errs, struct{ Low, High float64 }{s.WallS - min(s.WallMinS, s.WallS), max(s.WallMaxS, s.WallS) - s.WallS})
			sizes = append(sizes, s.Members)
			ymax = max(ymax, s.WallMaxS, s.WallS)
			labels = append(labels, label{float64(s.Members), s.WallS, fmt.Sprintf("%.1f s", s.WallS), darker(d.colour(m))})
		}
		if len(pts) == 0 {
			continue
		}
		line, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		line.LineStyle = lineStyle(d.colour(m), 2.5)
		sc.GlyphStyle = draw.GlyphStyle{Color: d.colour(m), Radius: vg.Points(4), Shape: draw.CircleGlyph{}}
		eb, err := plotter.NewYErrorBars(xyErrs{pts, errs})
		if err != nil {
			return err
		}
		eb.LineStyle = lineStyle(d.colour(m), 1.5)
		p.Add(line, sc, eb)
		p.Legend.Add(m, line, sc)
	}
	slices.Sort(sizes)
	sizes = slices.Compact(sizes)
	var ticks plot.ConstantTicks
	for _, n := range sizes {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: fmt.Sprint(n)})
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = float64(sizes[0])-0.8, float64(sizes[len(sizes)-1])+0.8
	p.Y.Min, p.Y.Max = 0, ymax*1.1

	// The values: at each size the highest above left of its point, the
	// others below right, kept apart.
	slices.SortFunc(labels, func(a, b label) int { return cmp.Or(cmp.Compare(a.x, b.x), cmp.Compare(b.y, a.y)) })
	sep := 0.06 * p.Y.Max
	vl := &boxedLabels{}
	for i, l := range labels {
		sty := textStyle(12, l.colour)
		if i == 0 || labels[i-1].x != l.x {
			sty.XAlign, sty.YAlign = draw.XRight, draw.YBottom
			vl.add(l.x, l.y, l.text, sty, vg.Point{X: -vg.Points(8), Y: vg.Points(4)})
			continue
		}
		if i >= 2 && labels[i-2].x == l.x {
			labels[i].y = min(l.y, labels[i-1].y-sep)
		}
		sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
		vl.add(l.x, labels[i].y, l.text, sty, vg.Point{X: vg.Points(9), Y: -vg.Points(4)})
	}
	p.Add(vl)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), -vg.Points(4)
	p.Draw(c)
	return nil
}

// boxedLabels writes texts at data points, each on a white box so the
// lines under it do not hide it.
type boxedLabels struct {
	at     plotter.XYs
	texts  []string
	styles []text.Style
	offs   []vg.Point
}

func (b *boxedLabels) add(x, y float64, txt string, sty text.Style, off vg.Point) {
	b.at = append(b.at, plotter.XY{X: x, Y: y})
	b.texts, b.styles, b.offs = append(b.texts, txt), append(b.styles, sty), append(b.offs, off)
}

func (b *boxedLabels) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	pad := vg.Points(2)
	for i, txt := range b.texts {
		pt := vg.Point{X: tx(b.at[i].X) + b.offs[i].X, Y: ty(b.at[i].Y) + b.offs[i].Y}
		r := b.styles[i].Rectangle(txt)
		lo, hi := pt.Add(r.Min).Sub(vg.Point{X: pad, Y: pad}), pt.Add(r.Max).Add(vg.Point{X: pad, Y: pad})
		c.FillPolygon(color.White, []vg.Point{lo, {X: lo.X, Y: hi.Y}, hi, {X: hi.X, Y: lo.Y}})
		c.FillText(b.styles[i], pt, txt)
	}
}

// secondTicks marks every step seconds, labelled without trailing zeros.
type secondTicks struct{ step float64 }

func (t secondTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for v := math.Ceil(lo/t.step) * t.step; v <= hi+t.step/1e6; v += t.step {
		out = append(out, plot.Tick{Value: v, Label: fmt.Sprintf("%g", math.Round(v*1000)/1000)})
	}
	return out
}

// bars draws vertical bars from 0, centred on X, Width wide in data units.
type bars struct {
	plotter.XYs
	Width  float64
	Colour color.Color
}

func (b *bars) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	for _, xy := range b.XYs {
		x0, x1, y0, y1 := tx(xy.X-b.Width/2), tx(xy.X+b.Width/2), ty(0), ty(xy.Y)
		c.FillPolygon(b.Colour, c.ClipPolygonY([]vg.Point{{X: x0, Y: y0}, {X: x0, Y: y1}, {X: x1, Y: y1}, {X: x1, Y: y0}}))
	}
}

func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, _, ymax = plotter.XYRange(b.XYs)
	return xmin - b.Width/2, xmax + b.Width/2, 0, ymax
}

func (b *bars) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	c.FillPolygon(b.Colour, []vg.Point{r.Min, {X: r.Min.X, Y: r.Max.Y}, r.Max, {X: r.Max.X, Y: r.Min.Y}})
}

// barLabels writes each text centred above its bar, or with below just
// under the bar's top.
func barLabels(p *plot.Plot, xys plotter.XYs, texts []string, colour color.Color, below bool) error {
	if len(xys) == 0 {
		return nil
	}
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
	if err != nil {
		return err
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i] = textStyle(11, colour)
		lb.TextStyle[i].XAlign = draw.XCenter
		if below {
			lb.TextStyle[i].YAlign = draw.YTop
		}
	}
	lb.Offset.Y = vg.Points(3)
	if below {
		lb.Offset.Y = -vg.Points(3)
	}
	p.Add(lb)
	return nil
}

// drawStopBars: per-member stop time of the patch path at 3 members, by
// client mix and unit behaviour; etcd's own stop drawn inside each bar.
func (d *chartData) drawStopBars(c draw.Canvas) error {
	all := d.pick(func(s RolloutSummary) bool { return s.Path == d.path })
	size := barSize(all)
	ss := d.pick(func(s RolloutSummary) bool { return s.Path == d.path && s.Members == size })
	inside := "inside: etcd's own stop, SIGTERM → closed, from its log"
	if !slices.ContainsFunc(ss, func(s RolloutSummary) bool { return s.EtcdStopS > 0 }) {
		inside = "etcd's own stop: not in these results"
	}
	const title = "Per-member stop time by client mix and unit"
	if len(ss) == 0 {
		noData(panelHead(c, title, 16, 12), "no completed rollouts of the patch path in these results")
		return nil
	}
	c = panelHead(c, title, 16, 12,
		fmt.Sprintf("path %s, %d members · median over every member of every run", d.path, size),
		"bar: the member's stop until its first passing health check · "+inside)
	type group struct{ clients, unit string }
	rank := func(v string, order ...string) int {
		if i := slices.Index(order, v); i >= 0 {
			return i
		}
		return len(order)
	}
	var groups []group
	for _, s := range ss {
		if g := (group{s.Clients, s.Unit}); !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	slices.SortFunc(groups, func(a, b group) int {
		return cmp.Or(cmp.Compare(rank(a.clients, "writers", "kubernetes"), rank(b.clients, "writers", "kubernetes")), strings.Compare(a.clients, b.clients),
			cmp.Compare(rank(a.unit, "notify", "simple"), rank(b.unit, "notify", "simple")), strings.Compare(a.unit, b.unit))
	})
	var methods []string
	for _, m := range d.methods {
		if slices.ContainsFunc(ss, func(s RolloutSummary) bool { return s.Method == m }) {
			methods = append(methods, m)
		}
	}

	p := newPlot("client mix / unit", "seconds per member")
	l := newLegend()
	slot, ymax := 0.8/float64(len(methods)), 0.0
	for _, s := range ss {
		ymax = max(ymax, s.StopToHealthyS, s.EtcdStopS)
	}
	var ticks plot.ConstantTicks
	for gi, g := range groups {
		ticks = append(ticks, plot.Tick{Value: float64(gi), Label: g.clients + " / " + g.unit})
	}
	for mi, m := range methods {
		outer := &bars{Width: slot * 0.92, Colour: d.colour(m)}
		inner := &bars{Width: slot * 0.46, Colour: darker(d.colour(m))}
		var outerText, innerText []string
		var innerAt plotter.XYs
		for gi, g := range groups {
			for _, s := range ss {
				if s.Method != m || s.Clients != g.clients || s.Unit != g.unit {
					continue
				}
				x := float64(gi) - 0.4 + slot*(float64(mi)+0.5)
				outer.XYs = append(outer.XYs, plotter.XY{X: x, Y: s.StopToHealthyS})
				outerText = append(outerText, fmt.Sprintf("%.2f", s.StopToHealthyS))
				if s.EtcdStopS > 0 {
					inner.XYs = append(inner.XYs, plotter.XY{X: x, Y: s.EtcdStopS})
				}
				// Its value inside, if the bar is tall enough for it.
				if s.EtcdStopS > 0.1*ymax {
					innerAt = append(innerAt, plotter.XY{X: x, Y: s.EtcdStopS})
					innerText = append(innerText, fmt.Sprintf("%.2f", s.EtcdStopS))
				}
			}
		}
		if len(outer.XYs) == 0 {
			continue
		}
		p.Add(outer)
		l.Add(m+": stop → healthy", outer)
		if len(inner.XYs) > 0 {
			p.Add(inner)
			l.Add(m+": etcd's own stop", inner)
		}
		if err := barLabels(p, outer.XYs, outerText, color.Black, false); err != nil {
			return err
		}
		if err := barLabels(p, innerAt, innerText, color.White, true); err != nil {
			return err
		}
	}
	p.X.Tick.Marker = ticks
	// One group alone is drawn as wide as one of two.
	p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5
	if len(groups) == 1 {
		p.X.Min, p.X.Max = -1, 1
	}
	p.Y.Min, p.Y.Max = 0, ymax*1.12
	drawWithLegend(c, p, l)
	return nil
}

// otherPaths are the paths beside the patch path, each with its methods'
// summaries at one size, unit notify, writers only.
func (d *chartData) otherPaths() []RolloutSummary {
	ss := d.pick(func(s RolloutSummary) bool {
		return s.Path != d.path && s.Unit == "notify" && s.Clients == "writers"
	})
	size := barSize(ss)
	return slices.DeleteFunc(ss, func(s RolloutSummary) bool { return s.Members != size })
}

// drawOtherPaths: median wall time of the other paths, grouped by path.
func (d *chartData) drawOtherPaths(c draw.Canvas, ss []RolloutSummary) error {
	c = panelHead(c, "Other paths", 16, 12, fmt.Sprintf("%d members, unit notify, writers only · median wall time", ss[0].Members))
	var paths, methods []string
	for _, s := range ss {
		if !slices.Contains(paths, s.Path) {
			paths = append(paths, s.Path)
		}
		methods = append(methods, s.Method)
	}
	methods = sortMethods(methods)
	p := newPlot("", "seconds")
	slot, ymax := 0.8/float64(len(methods)), 0.0
	for mi, m := range methods {
		b := &bars{Width: slot * 0.92, Colour: d.colour(m)}
		var texts []string
		for pi, path := range paths {
			for _, s := range ss {
				if s.Method == m && s.Path == path {
					b.XYs = append(b.XYs, plotter.XY{X: float64(pi) - 0.4 + slot*(float64(mi)+0.5), Y: s.WallS})
					texts = append(texts, fmt.Sprintf("%.1f", s.WallS))
					ymax = max(ymax, s.WallS)
				}
			}
		}
		p.Add(b)
		p.Legend.Add(m, b)
		if err := barLabels(p, b.XYs, texts, color.Black, false); err != nil {
			return err
		}
	}
	var ticks plot.ConstantTicks
	for i, path := range paths {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: path})
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = -0.5, float64(len(paths))-0.5
	p.Y.Min, p.Y.Max = 0, ymax*1.3
	p.Legend.Top = true
	p.Draw(c)
	return nil
}

// drawTimeline: the highest write latency of each slice of one 3-member
// rollout per method, the members' stops and the failed writes.
func (d *chartData) drawTimeline(c draw.Canvas) error {
	var methods []string
	for _, m := range d.methods {
		if len(d.res.Timeline[m]) > 0 {
			methods = append(methods, m)
		}
	}
	const title = "Write latency over one 3-member rollout"
	if len(methods) == 0 {
		noData(panelHead(c, title, 16, 12), "no write latency timeline in these results")
		return nil
	}
	anyStops := slices.ContainsFunc(methods, func(m string) bool { return len(d.res.TimelineStops[m]) > 0 })
	anyFailed := slices.ContainsFunc(methods, func(m string) bool {
		return slices.ContainsFunc(d.res.Timeline[m], func(b Bucket) bool { return b.Failed > 0 })
	})
	var marks []string
	if anyStops {
		marks = append(marks, "dashed: a member stopped, named at the top")
	}
	if anyFailed {
		marks = append(marks, "×: failed write(s) in that slice, at the bottom")
	}
	c = panelHead(c, title, 16, 12,
		"highest latency of the writes started in each slice, log scale · a break in a line: no write acknowledged in that slice",
		strings.Join(marks, " · "))
	p := newPlot("seconds since the command started", "ms")
	l := newLegend()
	lmin, lmax, tmax := math.Inf(1), 1.0, 1.0
	for _, m := range methods {
		for _, b := range d.res.Timeline[m] {
			if b.Acked > 0 && b.MaxMs > 0 {
				lmin, lmax = min(lmin, b.MaxMs), max(lmax, b.MaxMs)
			}
		}
	}
	if math.IsInf(lmin, 1) {
		lmin = 1
	}
	// Room below the lowest decade for the failed writes, above the highest
	// for the members' names.
	ylo, yhi := math.Pow(10, math.Floor(math.Log10(lmin)))/1.5, math.Pow(10, math.Ceil(math.Log10(lmax)))*4
	if anyFailed {
		ylo /= 3.3
	}
	for mi, m := range methods {
		buckets := d.res.Timeline[m]
		width := 0.1
		if len(buckets) > 1 {
			width = buckets[1].T - buckets[0].T
		}
		tmax = max(tmax, buckets[len(buckets)-1].T+width)
		col := d.colour(m)
		// Segments between slices without an acknowledged write.
		var segs []plotter.XYs
		var fails plotter.XYs
		run := plotter.XYs{}
		for _, b := range buckets {
			if b.Failed > 0 {
				// A row per method at the bottom.
				fails = append(fails, plotter.XY{X: b.T + width/2, Y: ylo * math.Pow(1.4, float64(mi+1))})
			}
			if b.Acked == 0 || b.MaxMs <= 0 {
				if len(run) > 0 {
					segs = append(segs, run)
				}
				run = plotter.XYs{}
				continue
			}
			run = append(run, plotter.XY{X: b.T + width/2, Y: b.MaxMs})
		}
		if len(run) > 0 {
			segs = append(segs, run)
		}
		var legendLine *plotter.Line
		for _, seg := range segs {
			if len(seg) == 1 {
				sc, err := plotter.NewScatter(seg)
				if err != nil {
					return err
				}
				sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
				p.Add(sc)
				continue
			}
			line, err := plotter.NewLine(seg)
			if err != nil {
				return err
			}
			line.LineStyle = lineStyle(col, 1.8)
			p.Add(line)
			legendLine = line
		}
		if legendLine == nil {
			legendLine = &plotter.Line{LineStyle: lineStyle(col, 1.8)}
		}
		l.Add(m, legendLine)
		if len(fails) > 0 {
			sc, err := plotter.NewScatter(fails)
			if err != nil {
				return err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(4.5), Shape: draw.CrossGlyph{}}
			p.Add(sc)
		}
		// Stops: a dashed line each, the member's name in a row per method
		// at the top.
		var at plotter.XYs
		var names []string
		for _, st := range d.res.TimelineStops[m] {
			line, err := plotter.NewLine(plotter.XYs{{X: st.T, Y: ylo}, {X: st.T, Y: yhi}})
			if err != nil {
				return err
			}
			line.LineStyle = lineStyle(col, 1.5, vg.Points(6), vg.Points(4))
			p.Add(line)
			at = append(at, plotter.XY{X: st.T, Y: yhi / math.Pow(1.45, float64(mi+1))})
			names = append(names, st.Member)
			tmax = max(tmax, st.T)
		}
		if len(at) > 0 {
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: at, Labels: names})
			if err != nil {
				return err
			}
			for i := range lb.TextStyle {
				lb.TextStyle[i] = textStyle(12, darker(col))
				lb.TextStyle[i].YAlign = draw.YCenter
			}
			lb.Offset.X = vg.Points(4)
			p.Add(lb)
		}
	}
	if anyStops {
		l.Add("member stopped", &plotter.Line{LineStyle: lineStyle(textGray, 1.5, vg.Points(6), vg.Points(4))})
	}
	if anyFailed {
		l.Add("failed write(s)", &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: textGray, Radius: vg.Points(4.5), Shape: draw.CrossGlyph{}}})
	}
	p.X.Min, p.X.Max = 0, tmax
	step := 0.5
	for _, st := range []float64{1, 2, 5, 10, 30, 60} {
		if tmax/step <= 16 {
			break
		}
		step = st
	}
	p.X.Tick.Marker = secondTicks{step}
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = ylo, yhi
	drawWithLegend(c, p, l)
	return nil
}
