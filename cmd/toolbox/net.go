package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

func runTCPEcho(ctx context.Context, args []string) error {
	fs := newFlags("tcp-echo")
	port := fs.Int("port", 7, "TCP port to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	fmt.Printf("tcp-echo: listening on %s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			n, _ := io.Copy(c, c)
			fmt.Printf("tcp-echo: %s echoed %d bytes\n", c.RemoteAddr(), n)
		}()
	}
}

func runUDPEcho(ctx context.Context, args []string) error {
	fs := newFlags("udp-echo")
	port := fs.Int("port", 7, "UDP port to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", net.JoinHostPort("", strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	fmt.Printf("udp-echo: listening on %s\n", pc.LocalAddr())
	go func() {
		<-ctx.Done()
		pc.Close()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if _, err := pc.WriteTo(buf[:n], addr); err != nil {
			fmt.Printf("udp-echo: replying to %s: %v\n", addr, err)
			continue
		}
		fmt.Printf("udp-echo: %s echoed %d bytes\n", addr, n)
	}
}

// runDNSLookup prints the A records of a name, one address a line, as the pod's
// resolver (/etc/resolv.conf, with its search list and ndots) finds them.
func runDNSLookup(ctx context.Context, args []string) error {
	fs := newFlags("dns-lookup")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("want exactly one name to look up")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	// PreferGo: the pure-Go resolver reads /etc/resolv.conf itself; the binary is
	// static, so there is no libc resolver to defer to anyway.
	r := &net.Resolver{PreferGo: true}
	ips, err := r.LookupIP(ctx, "ip4", fs.Arg(0))
	if err != nil {
		return err
	}
	for _, ip := range ips {
		fmt.Println(ip)
	}
	return nil
}
