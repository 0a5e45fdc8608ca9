package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	rpprof "runtime/pprof"
)

// profiling holds the profiling flags the long-running commands share.
type profiling struct {
	address string
	cpuFile string
}

func (p *profiling) register(fs *flag.FlagSet) {
	fs.StringVar(&p.address, "profiling-address", "", "serve Go pprof endpoints (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (default: off)")
	fs.StringVar(&p.cpuFile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
}

// start begins profiling; the returned function ends it and must run before exit.
func (p *profiling) start() (func(), error) {
	if p.address != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() {
			if err := http.ListenAndServe(p.address, mux); err != nil {
				slog.Error("profiling endpoint stopped", "address", p.address, "err", err)
			}
		}()
	}
	if p.cpuFile == "" {
		return func() {}, nil
	}
	f, err := os.Create(p.cpuFile)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := rpprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() { rpprof.StopCPUProfile(); f.Close() }, nil
}
