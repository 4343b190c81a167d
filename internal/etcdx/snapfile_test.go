package etcdx

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Files under testdata/snap come from real 3-member clusters (see the README there).
const walName0 = "0000000000000000-0000000000000000.wal"

func readSnapTestdata(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata", "snap"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func scanSnapTestdataWAL(t *testing.T, dir string) WALInfo {
	t.Helper()
	w, err := ScanWAL([]WALSegment{{Name: walName0, Data: readSnapTestdata(t, dir, walName0)}})
	if err != nil {
		t.Fatalf("%s: ScanWAL: %v", dir, err)
	}
	return w
}

func TestSnapParseFile35(t *testing.T) {
	name := "0000000000000002-0000000000000016.snap"
	s, err := ParseSnapFile(readSnapTestdata(t, "upgraded-snap35", name))
	if err != nil {
		t.Fatal(err)
	}
	term, index, ok := ParseSnapName(name)
	if !ok || term != 2 || index != 22 {
		t.Fatalf("ParseSnapName = %d, %d, %v", term, index, ok)
	}
	if s.Term != term || s.Index != index {
		t.Errorf("metadata term/index = %d/%d, want %d/%d from the name", s.Term, s.Index, term, index)
	}
	if s.ClusterVersion != "3.5.0" {
		t.Errorf("ClusterVersion = %q, want 3.5.0", s.ClusterVersion)
	}
	if len(s.Voters) != 3 || len(s.Learners) != 0 {
		t.Errorf("voters %v learners %v, want 3 voters", s.Voters, s.Learners)
	}
	if ok, why := Safe37(&s, nil); ok {
		t.Errorf("Safe37 on a 3.5-era snapshot alone = true (%s)", why)
	}
}

func TestSnapParseFile36(t *testing.T) {
	s, err := ParseSnapFile(readSnapTestdata(t, "remedied", "0000000000000008-000000000000001a.snap"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Term != 8 || s.Index != 26 || s.ClusterVersion != "3.6.0" {
		t.Errorf("got term %d index %d version %q, want 8 26 3.6.0", s.Term, s.Index, s.ClusterVersion)
	}
	if ok, why := Safe37(&s, nil); !ok {
		t.Errorf("Safe37 on a 3.6 snapshot = false (%s)", why)
	}
}

func TestSnapCorruptCRC(t *testing.T) {
	b := readSnapTestdata(t, "remedied", "0000000000000008-000000000000001a.snap")
	// Flip a byte inside the v2 store JSON (well past the crc and length prefixes).
	b[len(b)/2] ^= 0x01
	_, err := ParseSnapFile(b)
	if !errors.Is(err, ErrSnapCRC) {
		t.Fatalf("err = %v, want ErrSnapCRC", err)
	}
	if _, err := ParseSnapFile(nil); err == nil {
		t.Error("empty file: no error")
	}
	if _, err := ParseSnapFile([]byte("not a snapshot")); err == nil {
		t.Error("garbage: no error")
	}
}

func TestSnapNames(t *testing.T) {
	names := []string{"db", "0000000000000002-000000000000000b.snap", "/x/0000000000000002-0000000000000016.snap",
		"0000000000000002-0000000000000016.snap.broken", "0000000000000001-00000000000000ff.snap"}
	n, ok := NewestSnapName(names)
	if !ok || n != "/x/0000000000000002-0000000000000016.snap" {
		t.Errorf("NewestSnapName = %q, %v", n, ok)
	}
	if _, ok := NewestSnapName([]string{"db"}); ok {
		t.Error("NewestSnapName without snaps: ok")
	}
	seq, idx, ok := ParseWALName("000000000000000a-0000000000002711.wal")
	if !ok || seq != 10 || idx != 10001 {
		t.Errorf("ParseWALName = %d %d %v", seq, idx, ok)
	}
	if _, _, ok := ParseWALName("0.tmp"); ok {
		t.Error("ParseWALName(0.tmp) ok")
	}
}

func TestSnapWALSegmentsFrom(t *testing.T) {
	names := []string{"0.tmp", "0000000000000003-0000000000030001.wal", "0000000000000001-0000000000010001.wal",
		"0000000000000002-0000000000020001.wal"}
	for _, c := range []struct {
		index uint64
		want  string
	}{
		{0x10001, "0000000000000001-0000000000010001.wal 0000000000000002-0000000000020001.wal 0000000000000003-0000000000030001.wal"},
		{0x25000, "0000000000000002-0000000000020001.wal 0000000000000003-0000000000030001.wal"},
		{0x40000, "0000000000000003-0000000000030001.wal"},
	} {
		got, err := WALSegmentsFrom(names, c.index)
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("WALSegmentsFrom(%d) = %v, %v; want %s", c.index, got, err, c.want)
		}
	}
	if _, err := WALSegmentsFrom(names, 5); err == nil {
		t.Error("index before the oldest segment: no error")
	}
	if _, err := WALSegmentsFrom([]string{"0000000000000001-0000000000010001.wal", "0000000000000003-0000000000030001.wal"}, 0x40000); err == nil {
		t.Error("gap in sequence: no error")
	}
}

// Upgraded 3.5 -> 3.6, no snapshot ever: v2 entries from the 3.5 era are
// replayed. etcd 3.7.3 panicked on exactly this data dir.
func TestSnapWALUpgradedNoSnapshot(t *testing.T) {
	w := scanSnapTestdataWAL(t, "upgraded-nosnap")
	if w.Start.Index != 0 || w.Commit != 24 || w.Replayed != 25 {
		t.Errorf("start %d commit %d replayed %d, want 0 24 25", w.Start.Index, w.Commit, w.Replayed)
	}
	var idx []uint64
	for _, e := range w.Unsafe {
		idx = append(idx, e.Index)
		if e.Method != http.MethodPut || !strings.HasPrefix(e.Path, "/0/") {
			t.Errorf("unexpected unsafe entry %+v", e)
		}
	}
	if want := []uint64{5, 6, 7, 8, 15, 16, 18}; len(idx) != len(want) || idx[0] != 5 || idx[6] != 18 {
		t.Errorf("unsafe indexes %v, want %v", idx, want)
	}
	ok, why := Safe37(nil, &w)
	if ok || !strings.Contains(why, "written by etcd 3.5") || !strings.Contains(why, "/0/members/") {
		t.Errorf("Safe37 = %v, %q", ok, why)
	}
}

// Snapshot taken on 3.5 (index 22), then the 3.6 upgrade. The newest .snap
// says 3.5.0, yet no v2 entry follows it: etcd 3.7.3 started on this data dir.
func TestSnapWALUpgradedAfter35Snapshot(t *testing.T) {
	w := scanSnapTestdataWAL(t, "upgraded-snap35")
	if w.Start != (WALSnapshot{Index: 22, Term: 2}) || len(w.Snapshots) != 3 || w.Replayed != 7 {
		t.Errorf("start %+v snapshots %v replayed %d", w.Start, w.Snapshots, w.Replayed)
	}
	if ok, why := Safe37(nil, &w); !ok {
		t.Errorf("Safe37 = false: %s", why)
	}
	s, err := ParseSnapFile(readSnapTestdata(t, "upgraded-snap35", "0000000000000002-0000000000000016.snap"))
	if err != nil {
		t.Fatal(err)
	}
	// The WAL decides, not the snapshot's cluster version.
	if ok, _ := Safe37(&s, &w); !ok {
		t.Error("Safe37(snap 3.5.0, clean WAL) = false")
	}
}

// After one restart with --snapshot-count=1 on 3.6.
func TestSnapWALRemedied(t *testing.T) {
	w := scanSnapTestdataWAL(t, "remedied")
	if w.Start != (WALSnapshot{Index: 26, Term: 8}) || len(w.Unsafe) != 0 {
		t.Errorf("start %+v unsafe %v", w.Start, w.Unsafe)
	}
	if ok, why := Safe37(nil, &w); !ok {
		t.Errorf("Safe37 = false: %s", why)
	}
}

// A cluster created on 3.6: no .snap file, but nothing to fear in the WAL.
func TestSnapWALCreatedOn36(t *testing.T) {
	w := scanSnapTestdataWAL(t, "created36")
	if w.Start.Index != 0 || w.Replayed == 0 || len(w.Unsafe) != 0 {
		t.Errorf("start %+v replayed %d unsafe %v", w.Start, w.Replayed, w.Unsafe)
	}
	if ok, why := Safe37(nil, &w); !ok {
		t.Errorf("Safe37 = false: %s", why)
	}
	if ok, _ := Safe37(nil, nil); ok {
		t.Error("Safe37 with nothing read = true")
	}
}

func TestSnapWALCorruptAndTorn(t *testing.T) {
	orig := readSnapTestdata(t, "upgraded-nosnap", walName0)

	// A flipped byte in the middle fails the rolling CRC.
	b := append([]byte(nil), orig...)
	b[len(b)/2] ^= 0x40
	if _, err := ScanWAL([]WALSegment{{Name: walName0, Data: b}}); err == nil {
		t.Error("corrupted WAL: no error")
	}

	// A copy cut in the middle of the last record, as when reading a WAL
	// that etcd is writing: tolerated and reported, earlier records kept.
	w, err := ScanWAL([]WALSegment{{Name: walName0, Data: orig[:len(orig)-20]}})
	if err != nil {
		t.Fatalf("cut WAL: %v", err)
	}
	if !w.TornTail || len(w.Unsafe) != 7 {
		t.Errorf("cut WAL: torn %v unsafe %d", w.TornTail, len(w.Unsafe))
	}

	// The same cut in a segment that is not the last one is an error.
	if _, err := ScanWAL([]WALSegment{{Name: walName0, Data: orig[:len(orig)-20]},
		{Name: "0000000000000001-0000000000000019.wal", Data: orig}}); err == nil {
		t.Error("cut non-last segment: no error")
	}

	if _, err := ScanWAL([]WALSegment{{Name: "x.wal", Data: orig}}); err == nil {
		t.Error("bad segment name: no error")
	}
}

func TestSnapCheck37(t *testing.T) {
	for _, c := range []struct {
		name string
		typ  uint64
		data []byte
		bad  bool
	}{
		{"empty normal entry", 0, nil, false},
		{"conf change", 1, []byte{0x08, 0x01}, false},
		// v2 Request{ID: 1, Method: "SYNC", Time: 2}: decodes in 3.7, but panics as "not implemented apply"
		{"v2 sync", 0, []byte{0x08, 0x01, 0x12, 0x04, 'S', 'Y', 'N', 'C', 0x78, 0x02}, true},
		// InternalRaftRequest{ID: 1, Put: {key: "k"}}
		{"v3 put", 0, []byte{0x08, 0x01, 0x22, 0x03, 0x0a, 0x01, 'k'}, false},
		// field 3 (range) holding "/a": wire type 7 inside
		{"bad nested", 0, []byte{0x1a, 0x02, '/', 'a'}, true},
		{"unknown entry type", 7, nil, true},
	} {
		if got := check37(c.typ, c.data) != nil; got != c.bad {
			t.Errorf("%s: unsafe = %v, want %v", c.name, got, c.bad)
		}
	}
}

// SafeV2For36 finds v2 data in the snapshot and in the log after it, and
// lets etcd's own membership entries pass.
func TestSafeV2For36(t *testing.T) {
	s, err := ParseSnapFile(readSnapTestdata(t, "v2data", "0000000000000002-000000000000000c.snap"))
	if err != nil {
		t.Fatal(err)
	}
	w := scanSnapTestdataWAL(t, "v2data")
	ok, why := SafeV2For36(&s, &w)
	if ok || !strings.Contains(why, "the newest snapshot (index 12) holds /1/app/config") || !strings.Contains(why, "the write-ahead log after it holds PUT /1/late2") {
		t.Errorf("SafeV2For36 = %v, %q; want the snapshot's and the log's v2 keys", ok, why)
	}
	// Clusters whose v2 store only ever held etcd's own data.
	for _, dir := range []string{"upgraded-nosnap", "created36"} {
		w := scanSnapTestdataWAL(t, dir)
		if ok, why := SafeV2For36(nil, &w); !ok {
			t.Errorf("%s: SafeV2For36 = false (%s); membership entries are not v2 data", dir, why)
		}
	}
	s35, err := ParseSnapFile(readSnapTestdata(t, "upgraded-snap35", "0000000000000002-0000000000000016.snap"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s35.V2Keys) != 0 {
		t.Errorf("a snapshot without v2 data lists V2Keys %v", s35.V2Keys)
	}
}
