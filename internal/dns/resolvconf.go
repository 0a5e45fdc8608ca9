package dns

import (
	"bufio"
	"io"
	"os"
	"strings"
)

// resolvConf is the part of a resolv.conf file that DNS configuration uses.
type resolvConf struct {
	servers  []string
	searches []string
	options  []string
}

func readResolvConf(path string) (resolvConf, error) {
	f, err := os.Open(path)
	if err != nil {
		return resolvConf{}, err
	}
	defer f.Close()
	return parseResolvConf(f)
}

// parseResolvConf follows resolv.conf(5): the last search (or domain) line wins, and
// options accumulate.
func parseResolvConf(r io.Reader) (resolvConf, error) {
	var rc resolvConf
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			rc.servers = append(rc.servers, fields[1])
		case "search", "domain":
			rc.searches = nil
			for _, s := range fields[1:] {
				// A trailing dot would make the name absolute, which is meaningless
				// in a search list; a lone "." adds nothing.
				if s = strings.TrimSuffix(s, "."); s != "" {
					rc.searches = append(rc.searches, s)
				}
			}
		case "options":
			rc.options = append(rc.options, fields[1:]...)
		}
	}
	return rc, sc.Err()
}
