package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// The toolbox image links /bin/wget and /bin/curl to this program: Debian's static
// busybox wget crashes in its resolver, and the seeds' troubleshooting steps run
// `curl <service IP>` inside pods. Only the common flags are understood.

// runWget is `wget [-q] [-O FILE|-] [-T SECONDS] [--spider] URL`.
func runWget(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("wget", flag.ContinueOnError)
	quiet := fs.Bool("q", false, "quiet")
	out := fs.String("O", "", "output file (- for stdout)")
	timeout := fs.Int("T", 10, "timeout in seconds")
	spider := fs.Bool("spider", false, "only check the URL exists")
	if err := fs.Parse(expandShort(args, "OT")); err != nil {
		return exitError{code: 1}
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: wget [-q] [-O FILE|-] [-T SECONDS] URL")
	}
	url := withScheme(fs.Arg(0))
	if *out == "" && !*spider {
		*out = url[strings.LastIndex(url, "/")+1:]
		if *out == "" {
			*out = "index.html"
		}
	}
	if !*quiet {
		fmt.Fprintf(os.Stderr, "Connecting to %s\n", url)
	}
	return fetch(ctx, http.MethodGet, url, nil, nil, time.Duration(*timeout)*time.Second, *out, *spider, false)
}

// runCurl is `curl [-s] [-S] [-f] [-k] [-L] [-i] [-o FILE] [-m SECONDS] [-X METHOD]
// [-H HEADER]... [-d DATA] URL`.
func runCurl(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("curl", flag.ContinueOnError)
	var headers multi
	for _, b := range []string{"s", "S", "k", "L", "v", "silent", "show-error", "insecure", "location"} {
		fs.Bool(b, false, "ignored")
	}
	fail := fs.Bool("f", false, "fail on HTTP errors")
	include := fs.Bool("i", false, "include response headers")
	out := fs.String("o", "-", "output file")
	maxTime := fs.Int("m", 30, "timeout in seconds")
	fs.IntVar(maxTime, "max-time", 30, "timeout in seconds")
	method := fs.String("X", "", "method")
	data := fs.String("d", "", "request body")
	fs.Var(&headers, "H", "header")
	if err := fs.Parse(expandShort(args, "omXHd")); err != nil || fs.NArg() != 1 {
		return fmt.Errorf("usage: curl [-sSfkLi] [-o FILE] [-m SECONDS] [-X METHOD] [-H HEADER] [-d DATA] URL")
	}
	m := *method
	var body io.Reader
	if *data != "" {
		body = strings.NewReader(*data)
		if m == "" {
			m = http.MethodPost
		}
	}
	if m == "" {
		m = http.MethodGet
	}
	err := fetch(ctx, m, withScheme(fs.Arg(0)), body, headers, time.Duration(*maxTime)*time.Second, *out, false, *include)
	if err != nil && !*fail {
		if _, ok := err.(httpStatusError); ok {
			return nil // curl without -f succeeds on HTTP errors
		}
	}
	return err
}

// expandShort splits bundled single-letter flags the way getopt does ("-qO-" is
// "-q -O -"); letters in withValue take the rest of the word, or the next word, as value.
func expandShort(args []string, withValue string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' || a[1] == '-' || a == "-" {
			out = append(out, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := string(a[j])
			if !strings.Contains(withValue, c) {
				out = append(out, "-"+c)
				continue
			}
			if rest := a[j+1:]; rest != "" {
				out = append(out, "-"+c, rest)
			} else if i+1 < len(args) {
				out = append(out, "-"+c, args[i+1])
				i++
			} else {
				out = append(out, "-"+c)
			}
			break
		}
	}
	return out
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

type httpStatusError int

func (e httpStatusError) Error() string { return fmt.Sprintf("server returned HTTP %d", int(e)) }

func withScheme(u string) string {
	if !strings.Contains(u, "://") {
		return "http://" + u
	}
	return u
}

// fetch makes one request and writes the body to out ("-" for stdout).
func fetch(ctx context.Context, method, url string, body io.Reader, headers []string, timeout time.Duration, out string, spider, include bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	for _, h := range headers {
		if k, v, ok := strings.Cut(h, ":"); ok {
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // test tool: self-signed ingress certs
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if spider {
		if resp.StatusCode >= 400 {
			return httpStatusError(resp.StatusCode)
		}
		return nil
	}
	w := io.Writer(os.Stdout)
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if include {
		fmt.Fprintf(w, "%s %s\r\n", resp.Proto, resp.Status)
		_ = resp.Header.Write(w)
		fmt.Fprint(w, "\r\n")
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		return httpStatusError(resp.StatusCode)
	}
	return nil
}
