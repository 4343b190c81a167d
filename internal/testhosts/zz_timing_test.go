package testhosts

import (
	"context"
	"testing"
	"time"
)

func TestZZPhases(t *testing.T) {
	ctx := context.Background()
	for _, v := range []string{"3.5.21", "3.4.23", "3.5.21", "3.4.23"} {
		t0 := time.Now()
		s, err := Start(ctx, Options{NoEtcd: true, Block: 102})
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		s.InstallEtcd(v)
		t2 := time.Now()
		s.eachHost(func(h *Host) error { return h.StartEtcd(ctx) })
		t3 := time.Now()
		err = s.WaitHealthy(ctx)
		t4 := time.Now()
		t.Logf("%s: hosts %v, install %v, systemctl start %v, healthy %v (%v)", v, t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), err)
		t.Log(s.Hosts[0].LogTail(1000)[:0])
		s.Close()
	}
}
