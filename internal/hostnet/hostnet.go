// Package hostnet answers questions about this machine's network.
package hostnet

import (
	"bufio"
	"errors"
	"net"
	"os"
	"strings"
)

// DefaultRouteIP returns the first IPv4 address of the interface the default route
// leaves through: the address other machines know this one by.
func DefaultRouteIP() (string, error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 || fields[1] != "00000000" {
			continue
		}
		ifc, err := net.InterfaceByName(fields[0])
		if err != nil {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return n.IP.String(), nil
			}
		}
	}
	return "", errors.New("no default route with an IPv4 address")
}
