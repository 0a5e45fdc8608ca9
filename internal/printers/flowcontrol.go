package printers

import (
	"strconv"
	"time"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// addFlowControl prints API Priority and Fairness' configuration as kubectl shows
// it from Kubernetes: MissingPL is the Dangling condition the config controller
// writes ("?" until it has).
func addFlowControl(m map[schema.GroupKind]*Printer) {
	fsDoc := flowcontrolv1.FlowSchemaSpec{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("PriorityLevel", typeString, fsDoc["priorityLevelConfiguration"]),
		col("MatchingPrecedence", typeString, fsDoc["matchingPrecedence"]),
		col("DistinguisherMethod", typeString, fsDoc["distinguisherMethod"]),
		ageColumn(),
		col("MissingPL", typeString, "indicates if the referenced priority level configuration is missing"),
	}, flowSchemaRow), flowcontrolv1.GroupName, "FlowSchema")

	plDoc := flowcontrolv1.LimitedPriorityLevelConfiguration{}.SwaggerDoc()
	qDoc := flowcontrolv1.QueuingConfiguration{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Type", typeString, flowcontrolv1.PriorityLevelConfigurationSpec{}.SwaggerDoc()["type"]),
		col("NominalConcurrencyShares", typeString, plDoc["nominalConcurrencyShares"]),
		col("Queues", typeString, qDoc["queues"]),
		col("HandSize", typeString, qDoc["handSize"]),
		col("QueueLengthLimit", typeString, qDoc["queueLengthLimit"]),
		ageColumn(),
	}, priorityLevelRow), flowcontrolv1.GroupName, "PriorityLevelConfiguration")
}

func flowSchemaRow(fs *flowcontrolv1.FlowSchema, now time.Time) []interface{} {
	method := "*"
	if dm := fs.Spec.DistinguisherMethod; dm != nil {
		method = string(dm.Type)
	}
	missing := "?"
	for _, c := range fs.Status.Conditions {
		if c.Type == flowcontrolv1.FlowSchemaConditionDangling {
			missing = string(c.Status)
			break
		}
	}
	return []interface{}{fs.Name, fs.Spec.PriorityLevelConfiguration.Name, int64(fs.Spec.MatchingPrecedence), method,
		age(now, fs.CreationTimestamp), missing}
}

func priorityLevelRow(pl *flowcontrolv1.PriorityLevelConfiguration, now time.Time) []interface{} {
	shares, queues, handSize, queueLength := none, none, none, none
	if l := pl.Spec.Limited; l != nil {
		if l.NominalConcurrencyShares != nil {
			shares = strconv.Itoa(int(*l.NominalConcurrencyShares))
		}
		if q := l.LimitResponse.Queuing; q != nil {
			queues, handSize, queueLength = strconv.Itoa(int(q.Queues)), strconv.Itoa(int(q.HandSize)), strconv.Itoa(int(q.QueueLengthLimit))
		}
	}
	return []interface{}{pl.Name, string(pl.Spec.Type), shares, queues, handSize, queueLength, age(now, pl.CreationTimestamp)}
}
