package cri

import (
	"context"

	eventsapi "github.com/containerd/containerd/api/services/events/v1"
)

// exitFilters select the events of a container or sandbox task ending in the
// namespace containerd's CRI plugin uses.
var exitFilters = []string{
	`namespace=="k8s.io",topic=="/tasks/exit"`,
	`namespace=="k8s.io",topic=="/tasks/oom"`,
}

// WatchExits calls exited each time one of the runtime's tasks ends, until ctx ends
// or the stream breaks. CRI v1 has a container event stream only from containerd
// 1.7; containerd's own events service, on the same socket, has it in every
// version. A runtime without that service answers Unimplemented at once.
func (c *Client) WatchExits(ctx context.Context, exited func()) error {
	s, err := eventsapi.NewEventsClient(c.conn).Subscribe(ctx, &eventsapi.SubscribeRequest{Filters: exitFilters})
	if err != nil {
		return err
	}
	for {
		if _, err := s.Recv(); err != nil {
			return err
		}
		exited()
	}
}
