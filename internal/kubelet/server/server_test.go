package server

import (
	"net/url"
	"testing"
	"time"
)

func TestLogOptions(t *testing.T) {
	now := time.Unix(10_000, 0)
	q, _ := url.ParseQuery("follow=true&tailLines=5&sinceSeconds=60&timestamps=true&limitBytes=100")
	o, err := logOptions(q.Get, now)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Follow || o.TailLines != 5 || !o.Since.Equal(now.Add(-time.Minute)) || !o.Timestamps || o.LimitBytes != 100 {
		t.Errorf("options %+v", o)
	}
	if o, _ := logOptions(url.Values{}.Get, now); o.TailLines != -1 || o.Follow {
		t.Errorf("defaults %+v: want all lines, no follow", o)
	}
	for _, bad := range []string{"tailLines=-1", "sinceSeconds=0", "limitBytes=x", "sinceTime=yesterday"} {
		q, _ := url.ParseQuery(bad)
		if _, err := logOptions(q.Get, now); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
