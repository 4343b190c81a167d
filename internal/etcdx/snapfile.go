package etcdx

// Reading a member's on-disk raft state (member/snap/*.snap and member/wal/*.wal)
// to decide whether the member can be started on etcd 3.7.
//
// Why: etcd 3.5 writes v2-format entries (a bare etcdserverpb.Request, e.g.
// "PUT /0/members/<id>/attributes" on every member start and "PUT /0/version"
// on cluster-version changes) to the raft log. 3.6 still replays them; 3.7
// decodes every normal entry as an InternalRaftRequest and panics with
// "unmarshal should never fail" on them. At start 3.7 ignores the .snap files:
// it takes the newest snapshot record in the WAL whose index is at most the
// committed index, and replays every WAL entry after it. So a member is safe
// for 3.7 exactly when no entry after that WAL snapshot record is a v2 request.
// 3.6 never writes v2 entries, so one snapshot taken on 3.6 after the last 3.5
// binary left the cluster makes a member safe.
//
// The decoders below mirror etcd's formats (server/etcdserver/api/snap and
// server/storage/wal of 3.6/3.7) with protowire only, so the provider does not
// depend on go.etcd.io/etcd/server.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapInfo is what ParseSnapFile reads from one member/snap/*.snap file.
type SnapInfo struct {
	Term  uint64
	Index uint64
	// ClusterVersion is the value of /0/version in the v2 store JSON the
	// snapshot carries ("3.5.0", "3.6.0", ...); "" if the key is absent.
	ClusterVersion string
	Voters         []uint64
	Learners       []uint64
	// V2Keys are keys the v2 store JSON holds outside etcd's own
	// membership data (/0): data written through the v2 API, which etcd 3.6
	// refuses to start on. At most a few, for messages.
	V2Keys []string
}

// ErrSnapCRC is returned (wrapped) when a .snap file's checksum does not match.
var ErrSnapCRC = errors.New("snapshot file checksum mismatch")

// ParseSnapName parses a snapshot file name "%016x-%016x.snap" (term-index).
func ParseSnapName(name string) (term, index uint64, ok bool) {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return parseHexPair(name, ".snap")
}

// ParseWALName parses a WAL file name "%016x-%016x.wal" (sequence-index; the
// index is the raft index the file's first entry was expected to have).
func ParseWALName(name string) (seq, index uint64, ok bool) {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return parseHexPair(name, ".wal")
}

func parseHexPair(name, ext string) (a, b uint64, ok bool) {
	base, found := strings.CutSuffix(name, ext)
	if !found || len(base) != 33 || base[16] != '-' {
		return 0, 0, false
	}
	var err1, err2 error
	a, err1 = strconv.ParseUint(base[:16], 16, 64)
	b, err2 = strconv.ParseUint(base[17:], 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return a, b, true
}

// NewestSnapName returns the name etcd 3.6 would try first among the given
// file names (the greatest term-index); names that are not *.snap are ignored.
func NewestSnapName(names []string) (string, bool) {
	best, found := "", false
	for _, n := range names {
		if _, _, ok := ParseSnapName(n); !ok {
			continue
		}
		base := n[strings.LastIndexByte(n, '/')+1:]
		if !found || base > best[strings.LastIndexByte(best, '/')+1:] {
			best, found = n, true
		}
	}
	return best, found
}

// ParseSnapFile decodes a member/snap/*.snap file: snappb.Snapshot{crc, data},
// checks the CRC (crc32 Castagnoli over data, as etcd does), and decodes data
// as raftpb.Snapshot{data: v2 store JSON, metadata{conf_state, index, term}}.
func ParseSnapFile(b []byte) (SnapInfo, error) {
	var info SnapInfo
	if len(b) == 0 {
		return info, errors.New("snapshot file is empty")
	}
	var crc uint32
	var data []byte
	var crcSet bool
	err := walkFields(b, func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			crc, crcSet = uint32(v), true
		case num == 2 && typ == protowire.BytesType:
			data = bs
		}
		return nil
	})
	if err != nil {
		return info, fmt.Errorf("snapshot file is not a snappb.Snapshot: %w", err)
	}
	if len(data) == 0 || !crcSet || crc == 0 {
		return info, errors.New("snapshot file has no data or no checksum")
	}
	if got := crc32.Checksum(data, castagnoli); got != crc {
		return info, fmt.Errorf("%w: stored %08x, computed %08x", ErrSnapCRC, crc, got)
	}
	var store, meta []byte
	err = walkFields(data, func(num protowire.Number, typ protowire.Type, _ uint64, bs []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			store = bs
		case 2:
			meta = bs
		}
		return nil
	})
	if err != nil {
		return info, fmt.Errorf("snapshot data is not a raftpb.Snapshot: %w", err)
	}
	if meta == nil {
		return info, errors.New("snapshot has no metadata")
	}
	err = walkFields(meta, func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error {
		switch {
		case num == 2 && typ == protowire.VarintType:
			info.Index = v
		case num == 3 && typ == protowire.VarintType:
			info.Term = v
		case num == 1 && typ == protowire.BytesType:
			return walkFields(bs, func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error {
				var dst *[]uint64
				switch num {
				case 1:
					dst = &info.Voters
				case 2:
					dst = &info.Learners
				default:
					return nil
				}
				switch typ {
				case protowire.VarintType:
					*dst = append(*dst, v)
				case protowire.BytesType: // packed encoding
					for len(bs) > 0 {
						x, n := protowire.ConsumeVarint(bs)
						if n < 0 {
							return protowire.ParseError(n)
						}
						*dst = append(*dst, x)
						bs = bs[n:]
					}
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return info, fmt.Errorf("snapshot metadata: %w", err)
	}
	if len(store) > 0 {
		v, err := v2StoreClusterVersion(store)
		if err != nil {
			return info, err
		}
		info.ClusterVersion = v
		if info.V2Keys, err = v2CustomKeys(store); err != nil {
			return info, err
		}
	}
	return info, nil
}

// v2Node is a node of the v2 store JSON a snapshot carries.
type v2Node struct {
	Value string
	// Children is {} for a directory, null for a key.
	Children map[string]*v2Node
}

// v2StoreClusterVersion reads /0/version from the v2 store JSON
// ({"Root":{"Children":{"0":{"Children":{"version":{"Value":"3.6.0"}}}}}}).
func v2StoreClusterVersion(b []byte) (string, error) {
	root, err := v2Root(b)
	if err != nil || root == nil || root.Children["0"] == nil || root.Children["0"].Children["version"] == nil {
		return "", err
	}
	return root.Children["0"].Children["version"].Value, nil
}

func v2Root(b []byte) (*v2Node, error) {
	var st struct{ Root *v2Node }
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("snapshot v2 store is not JSON: %w", err)
	}
	return st.Root, nil
}

// maxV2Keys bounds the keys a message names.
const maxV2Keys = 5

// v2CustomKeys lists keys of the v2 store outside /0, etcd's membership
// data: everything under /1 (where the v2 API keeps keys) and anything else
// at the top. Empty directories, such as etcd's own /1, hold no data.
func v2CustomKeys(b []byte) ([]string, error) {
	root, err := v2Root(b)
	if err != nil || root == nil {
		return nil, err
	}
	var keys []string
	var walk func(n *v2Node, path string)
	walk = func(n *v2Node, path string) {
		if len(keys) >= maxV2Keys {
			return
		}
		if n.Children == nil {
			keys = append(keys, path)
			return
		}
		names := make([]string, 0, len(n.Children))
		for name := range n.Children {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			walk(n.Children[name], path+"/"+name)
		}
	}
	names := make([]string, 0, len(root.Children))
	for name := range root.Children {
		if name != "0" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		walk(root.Children[name], "/"+name)
	}
	return keys, nil
}

// varintFields stores the varint fields of a protobuf message whose
// numbers are in into; other fields are skipped.
func varintFields(b []byte, into map[protowire.Number]*uint64) error {
	return walkFields(b, func(num protowire.Number, t protowire.Type, v uint64, _ []byte) error {
		if dst, ok := into[num]; ok && t == protowire.VarintType {
			*dst = v
		}
		return nil
	})
}

// walkFields calls f for every top-level field of a protobuf message. For
// varint and fixed fields v is the value; for bytes fields bs is the payload.
func walkFields(b []byte, f func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v uint64
		var bs []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			bs, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, bs); err != nil {
			return err
		}
	}
	return nil
}

// wellFormed reports whether b parses as protobuf wire data (any schema).
func wellFormed(b []byte) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

// WAL record types (server/storage/wal/wal.go).
const (
	walMetadataType = 1
	walEntryType    = 2
	walStateType    = 3
	walCrcType      = 4
	walSnapshotType = 5
)

// WALSegment is one WAL file: its base name and its bytes. The bytes may stop
// anywhere after the last record (the preallocated zero tail is not needed),
// so a compressed or cut copy of a 64 MB file is fine.
type WALSegment struct {
	Name string
	Data []byte
}

// WALSnapshot is a snapshot record in the WAL.
type WALSnapshot struct {
	Index, Term uint64
}

// WALEntry describes one entry that etcd 3.7 cannot replay.
type WALEntry struct {
	Index, Term uint64
	// Method and Path of the v2 request ("PUT", "/0/version"); empty when the
	// entry is not a v2 request but is still undecodable.
	Method, Path string
	Problem      string
}

// WALInfo is what ScanWAL finds.
type WALInfo struct {
	Segments  int
	Snapshots []WALSnapshot // snapshot records in WAL order
	Commit    uint64        // committed index from the last HardState record
	Term      uint64        // term from the last HardState record
	// Start is the snapshot record etcd 3.6/3.7 restarts from: the last one
	// whose index is at most Commit. Entries after Start.Index are replayed.
	Start     WALSnapshot
	Replayed  int    // entries after Start.Index (after conflicting entries are overwritten)
	LastIndex uint64 // index of the last entry read (0 if none)
	// Unsafe lists the replayed entries etcd 3.7 cannot decode, in index order.
	Unsafe []WALEntry
	// TornTail is set when the last segment ended in a partly written record
	// (normal when the WAL is read while etcd writes it).
	TornTail bool
}

// ScanWAL decodes consecutive WAL segments (in file-name order, starting at any
// segment) like etcd's wal decoder: 8-byte little-endian length frames with
// padding flags, walpb.Record{type, crc, data}, a rolling crc32 Castagnoli
// checked against every record and reseeded by the crc record at each
// segment's start. It then selects the snapshot record etcd restarts from and
// checks every entry after it the way etcd 3.7 decodes it.
func ScanWAL(segs []WALSegment) (WALInfo, error) {
	var info WALInfo
	if len(segs) == 0 {
		return info, errors.New("no WAL segments")
	}
	type rawEntry struct {
		index, term uint64
		typ         uint64
		data        []byte
	}
	var ents []rawEntry
	var prevSeq uint64
	var crc uint32
	for si, seg := range segs {
		seq, _, ok := ParseWALName(seg.Name)
		if !ok {
			return info, fmt.Errorf("%q is not a WAL file name", seg.Name)
		}
		if si > 0 && seq != prevSeq+1 {
			return info, fmt.Errorf("WAL segments not consecutive: %q follows sequence %d", seg.Name, prevSeq)
		}
		prevSeq = seq
		last := si == len(segs)-1
		b := seg.Data
		off := 0
		for {
			if len(b)-off < 8 {
				if len(b)-off > 0 && last && !allZero(b[off:]) {
					info.TornTail = true
				}
				break
			}
			l := int64(binary.LittleEndian.Uint64(b[off:]))
			if l == 0 { // preallocated space: end of this segment
				break
			}
			recBytes := int64(uint64(l) &^ (uint64(0xff) << 56))
			var padBytes int64
			if l < 0 {
				padBytes = int64((uint64(l) >> 56) & 0x7)
			}
			if recBytes+padBytes > int64(len(b)-off-8) {
				if last {
					info.TornTail = true
					break
				}
				return info, fmt.Errorf("%s: record at offset %d runs past the end of the segment", seg.Name, off)
			}
			data := b[off+8 : off+8+int(recBytes)]
			typ, rcrc, rdata, err := decodeWALRecord(data)
			if err == nil && typ != walCrcType && crc32.Update(crc, castagnoli, rdata) != rcrc {
				err = fmt.Errorf("crc mismatch")
			}
			if err != nil {
				if last && tornRecord(off, b[off+8:off+8+int(recBytes+padBytes)]) {
					info.TornTail = true
					break
				}
				return info, fmt.Errorf("%s: record at offset %d: %w", seg.Name, off, err)
			}
			switch typ {
			case walCrcType:
				if crc != 0 && rcrc != crc {
					return info, fmt.Errorf("%s: crc record %08x does not continue the previous segment (%08x)", seg.Name, rcrc, crc)
				}
				crc = rcrc
			case walEntryType:
				crc = rcrc
				var e rawEntry
				err = walkFields(rdata, func(num protowire.Number, t protowire.Type, v uint64, bs []byte) error {
					switch {
					case num == 1 && t == protowire.VarintType:
						e.typ = v
					case num == 2 && t == protowire.VarintType:
						e.term = v
					case num == 3 && t == protowire.VarintType:
						e.index = v
					case num == 4 && t == protowire.BytesType:
						e.data = bs
					}
					return nil
				})
				if err != nil {
					return info, fmt.Errorf("%s: entry at offset %d: %w", seg.Name, off, err)
				}
				ents = append(ents, e)
				info.LastIndex = e.index
			case walStateType:
				crc = rcrc
				if err := varintFields(rdata, map[protowire.Number]*uint64{1: &info.Term, 3: &info.Commit}); err != nil {
					return info, fmt.Errorf("%s: hard state at offset %d: %w", seg.Name, off, err)
				}
			case walSnapshotType:
				crc = rcrc
				var s WALSnapshot
				if err := varintFields(rdata, map[protowire.Number]*uint64{1: &s.Index, 2: &s.Term}); err != nil {
					return info, fmt.Errorf("%s: snapshot record at offset %d: %w", seg.Name, off, err)
				}
				info.Snapshots = append(info.Snapshots, s)
			case walMetadataType:
				crc = rcrc
			default:
				return info, fmt.Errorf("%s: unexpected record type %d at offset %d", seg.Name, typ, off)
			}
			off += 8 + int(recBytes+padBytes)
		}
		info.Segments++
	}

	found := false
	for _, s := range info.Snapshots {
		if s.Index <= info.Commit {
			info.Start, found = s, true
		}
	}
	if !found {
		return info, errors.New("no snapshot record at or below the committed index in the WAL segments read; include earlier segments")
	}

	// Rebuild the log after Start like wal.ReadAll: a later entry overwrites
	// the entry at its index and everything after it.
	var log []rawEntry
	for _, e := range ents {
		if e.index <= info.Start.Index {
			continue
		}
		offset := e.index - info.Start.Index - 1
		if offset > uint64(len(log)) {
			return info, fmt.Errorf("WAL entries jump from index %d to %d after snapshot %d; include earlier segments",
				info.Start.Index+uint64(len(log)), e.index, info.Start.Index)
		}
		log = append(log[:offset], e)
	}
	info.Replayed = len(log)
	for _, e := range log {
		if p := check37(e.typ, e.data); p != nil {
			p.Index, p.Term = e.index, e.term
			info.Unsafe = append(info.Unsafe, *p)
		}
	}
	return info, nil
}

func decodeWALRecord(b []byte) (typ uint64, crc uint32, data []byte, err error) {
	err = walkFields(b, func(num protowire.Number, t protowire.Type, v uint64, bs []byte) error {
		switch {
		case num == 1 && t == protowire.VarintType:
			typ = v
		case num == 2 && t == protowire.VarintType:
			crc = uint32(v)
		case num == 3 && t == protowire.BytesType:
			data = bs
		}
		return nil
	})
	return typ, crc, data, err
}

// tornRecord mirrors etcd's isTornEntry: a record is torn if any 512-byte
// sector chunk of it is all zero.
func tornRecord(frameOff int, data []byte) bool {
	const sector = 512
	fileOff := frameOff + 8
	for len(data) > 0 {
		n := sector - fileOff%sector
		if n > len(data) {
			n = len(data)
		}
		if allZero(data[:n]) {
			return true
		}
		data, fileOff = data[n:], fileOff+n
	}
	return false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// check37 returns a problem if etcd 3.7 cannot replay an entry of this type
// and data. Entry types: 0 normal, 1 conf change, 2 conf change v2.
//
// etcd 3.7 (etcdserver/apply.Apply) unmarshals every non-empty normal entry as
// InternalRaftRequest, in which field 2 (the old v2 wrapper) is reserved and
// every other length-delimited field is a message. A 3.5 v2 entry is a bare
// etcdserverpb.Request{ID=1, Method=2, Path=3, Val=4, ...}: its Path ("/...")
// parsed as RangeRequest starts with byte 0x2f, wire type 7, so the unmarshal
// fails ("proto: cannot parse invalid wire-format data") and etcd panics; a
// v2 request without a path (SYNC) parses but then panics as "not implemented
// apply". 3.6 and 3.7 never write field 2, so field 2 marks a v2 request.
func check37(typ uint64, data []byte) *WALEntry {
	switch typ {
	case 1, 2:
		return nil
	case 0:
	default:
		return &WALEntry{Problem: fmt.Sprintf("unknown entry type %d", typ)}
	}
	if len(data) == 0 {
		return nil
	}
	var method, path string
	v2 := false
	bad := ""
	err := walkFields(data, func(num protowire.Number, t protowire.Type, _ uint64, bs []byte) error {
		if t != protowire.BytesType {
			return nil
		}
		switch num {
		case 2:
			v2, method = true, string(bs)
		case 3:
			path = string(bs)
			if !wellFormed(bs) && bad == "" {
				bad = fmt.Sprintf("field %d is not a valid message", num)
			}
		default:
			if !wellFormed(bs) && bad == "" {
				bad = fmt.Sprintf("field %d is not a valid message", num)
			}
		}
		return nil
	})
	switch {
	case v2:
		return &WALEntry{Method: method, Path: path, Problem: "etcd 3.5 (v2) request"}
	case err != nil:
		return &WALEntry{Problem: "not decodable: " + err.Error()}
	case bad != "":
		return &WALEntry{Problem: "not decodable as InternalRaftRequest: " + bad}
	}
	return nil
}

// WALSegmentsFrom returns, from the WAL file names of a member (any order,
// other files ignored), the names etcd reads to replay the log after a
// snapshot at index: the last segment whose start index is at most index, and
// every later one, in order. With index 0 it returns all segments.
func WALSegmentsFrom(names []string, index uint64) ([]string, error) {
	type wn struct {
		name       string
		seq, index uint64
	}
	var ws []wn
	for _, n := range names {
		if seq, idx, ok := ParseWALName(n); ok {
			ws = append(ws, wn{n, seq, idx})
		}
	}
	if len(ws) == 0 {
		return nil, errors.New("no WAL files")
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].seq < ws[j].seq })
	for i := 1; i < len(ws); i++ {
		if ws[i].seq != ws[i-1].seq+1 {
			return nil, fmt.Errorf("WAL files not consecutive: %s after %s", ws[i].name, ws[i-1].name)
		}
	}
	from := -1
	for i := len(ws) - 1; i >= 0; i-- {
		if ws[i].index <= index {
			from = i
			break
		}
	}
	if from < 0 {
		return nil, fmt.Errorf("no WAL file covers index %d (oldest starts at %d)", index, ws[0].index)
	}
	var out []string
	for _, w := range ws[from:] {
		out = append(out, w.name)
	}
	return out, nil
}

// Safe37 decides whether a member can be started on etcd 3.7 without
// panicking while replaying its log. wal (from ScanWAL) is authoritative; snap
// (from ParseSnapFile on the newest .snap) is only used when wal is nil, and
// then proves safety only when it was taken at cluster version 3.6 or later.
// why is a sentence for an operator.
func Safe37(snap *SnapInfo, wal *WALInfo) (ok bool, why string) {
	if wal != nil {
		if n := len(wal.Unsafe); n > 0 {
			e := wal.Unsafe[0]
			what := e.Problem
			if e.Method != "" || e.Path != "" {
				what = strings.TrimSpace(e.Method+" "+e.Path) + ", written by etcd 3.5"
			}
			return false, fmt.Sprintf("the WAL holds %d entr%s after the last snapshot (index %d) that etcd 3.7 cannot replay "+
				"(first at index %d: %s); etcd 3.7 would panic at start with \"unmarshal should never fail\"",
				n, plural(n, "y", "ies"), wal.Start.Index, e.Index, what)
		}
		return true, fmt.Sprintf("all %d WAL entr%s after the last snapshot (index %d) are in the 3.6 format",
			wal.Replayed, plural(wal.Replayed, "y", "ies"), wal.Start.Index)
	}
	if snap == nil {
		return false, "no snapshot file and the WAL was not read, so it is unknown whether the log still holds entries " +
			"written by etcd 3.5, which etcd 3.7 cannot replay"
	}
	if atLeast36(snap.ClusterVersion) {
		return true, fmt.Sprintf("the newest snapshot (index %d) was taken at cluster version %s, so every later log entry was written by etcd 3.6 or later",
			snap.Index, snap.ClusterVersion)
	}
	cv := snap.ClusterVersion
	if cv == "" {
		cv = "unknown"
	}
	return false, fmt.Sprintf("the newest snapshot (index %d) was taken at cluster version %s, so the log after it may hold entries "+
		"written by etcd 3.5, which etcd 3.7 cannot replay", snap.Index, cv)
}

// SafeV2For36 decides whether a 3.5 member can be started on etcd 3.6 as far
// as the v2 store goes, as etcdutl 3.5.32's `check v2store` does: 3.6
// removed the v2 store, refuses to start on a snapshot with v2 data, and
// panics on a v2 write in the log it replays. etcd's own membership
// entries (/0/...) and SYNC requests are fine.
func SafeV2For36(snap *SnapInfo, wal *WALInfo) (ok bool, why string) {
	var found []string
	if snap != nil && len(snap.V2Keys) > 0 {
		found = append(found, fmt.Sprintf("the newest snapshot (index %d) holds %s", snap.Index, strings.Join(snap.V2Keys, ", ")))
	}
	var writes []string
	if wal != nil {
		for _, e := range wal.Unsafe {
			if e.Path != "" && e.Path != "/0" && !strings.HasPrefix(e.Path, "/0/") && len(writes) < maxV2Keys {
				writes = append(writes, fmt.Sprintf("%s %s (index %d)", e.Method, e.Path, e.Index))
			}
		}
	}
	if len(writes) > 0 {
		found = append(found, "the write-ahead log after it holds "+strings.Join(writes, ", "))
	}
	if len(found) > 0 {
		return false, "the v2 store holds data written through the v2 API: " + strings.Join(found, "; ")
	}
	return true, "no v2 data in the newest snapshot or the write-ahead log after it"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// atLeast36 reports whether a "major.minor.patch" version is 3.6 or later.
func atLeast36(v string) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return major > 3 || (major == 3 && minor >= 6)
}
