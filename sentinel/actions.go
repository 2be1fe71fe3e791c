package sentinel

import (
	"context"
	"time"
)

// The SentinelPool's hands: do carries out the actions that a service's
// state machine (state.go) decides, on the managed pools and in
// background work whose results come back to the loop as new inputs.

// do carries out a service's decisions; loop only.
func (p *SentinelPool) do(s *serviceRun, acts []action) {
	name := s.name
	for _, a := range acts {
		switch a.kind {
		case actDiscoverMaster, actCheckSwitch, actDiscoverReplicas:
			p.ask(s, a)
		case actArmFailFast:
			s.master.SetFailFast(true)
		case actHoldMaster:
			p.log.Info("sentinel: failover started: writes to the master held", "name", name, "addr", a.addr)
			s.master.Hold()
		case actResumeMaster:
			p.log.Info("sentinel: writes to the master resumed", "name", name, "addr", a.addr)
			if err := s.master.Resume(); err != nil {
				p.log.Error("sentinel: resume master", "name", name, "err", err)
			}
		case actInvalidateMaster:
			p.log.Info("sentinel: stop writing to master", "name", name, "addr", a.addr, "err", a.err)
			s.master.Invalidate()
			p.updateNearest(s)
		case actSetMaster:
			if err := s.master.SetAddrs([]string{a.addr}); err != nil {
				p.log.Error("sentinel: set master", "name", name, "err", err)
			}
			p.updateNearest(s)
		case actSetReplicas:
			s.replicas.SetAddrs(a.addrs)
			p.updateNearest(s)
		case actFailMasterWaiting:
			s.master.FailWaiting(a.err)
		case actFailReplicasWaiting:
			s.replicas.FailWaiting(a.err)
		case actMasterErr:
			s.masterErr.Store(errPtr(a.err))
		case actReplicaErr:
			s.replicaErr.Store(errPtr(a.err))
		case actEmit:
			switch a.event.Kind {
			case EventMasterChanged:
				p.log.Info("sentinel: following master", "name", name, "addr", a.event.Addr, "old", a.event.OldAddr, "via", a.event.Via)
			case EventReplicasChanged:
				p.log.Info("sentinel: replicas", "name", name, "addrs", a.event.Addrs)
			}
			p.emit(a.event)
		}
	}
}

// ask starts the discovery or check that a asks for, in the background;
// its result comes back to the service's state machine on the loop.
func (p *SentinelPool) ask(s *serviceRun, a action) {
	name := s.name
	switch a.kind {
	case actDiscoverMaster:
		p.work(func(ctx context.Context) {
			in, addr, err := discoverMaster(ctx, p.set, name, p.cfg.AddrMapper)
			r := masterResult{addr: addr, epoch: in.ConfigEpoch, failoverTimeout: in.FailoverTimeout(), err: err, gen: a.gen, via: "discovery"}
			p.report(func() { p.do(s, s.masterDone(r, time.Now())) })
		})
	case actCheckSwitch:
		p.work(func(ctx context.Context) {
			err := verifyRole(ctx, p.set, name, a.addr, "master")
			p.report(func() {
				p.do(s, s.masterDone(masterResult{addr: a.addr, epoch: -1, err: err, gen: a.gen, via: "+switch-master"}, time.Now()))
			})
		})
	case actDiscoverReplicas:
		p.work(func(ctx context.Context) {
			addrs, err := discoverReplicas(ctx, p.set, name, replicaRule{master: a.addr, promoting: a.next, inUse: a.addrs, mapAddr: p.cfg.AddrMapper, maxStale: p.cfg.MaxReplicaStaleness, spawn: p.life.Go})
			p.report(func() { p.do(s, s.replicasDone(a.gen, addrs, err, time.Now())) })
		})
	}
}

func errPtr(err error) *error {
	if err == nil {
		return nil
	}
	return &err
}
