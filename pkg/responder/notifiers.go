package responder

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/notify"
)

// snsNotifier publishes to NOTIFY_TOPIC_ARN and CENTRAL_NOTIFY_TOPIC_ARN, whichever are set (nil when
// neither is). The central topic is usually another account's, often in another region, and SNS
// publishes only to topics of the region it is called in ("You can publish messages only to topics
// and endpoints in the same Amazon Web Services Region", SNS API Reference, Publish), so its client
// is one for the topic's own region. Every message says which account and region it came from.
func snsNotifier(cfg config.Config, awsCfg aws.Config, function string) Notifier {
	var n *notify.SNS
	if cfg.NotifyTopicARN != "" {
		n = notify.New(sns.NewFromConfig(awsCfg), cfg.NotifyTopicARN, function)
	}
	if c := cfg.CentralNotifyTopicARN; c != "" {
		api := sns.NewFromConfig(awsCfg, func(o *sns.Options) { o.Region = notify.TopicRegion(c) })
		if n == nil {
			n = notify.New(api, c, function)
		} else {
			n.Also(api, c)
		}
	}
	if n == nil {
		return nil
	}
	// The local topic is the stack's own, so its account is the function's; Lambda's invoked function
	// ARN, when an invocation has one, says the same and wins.
	return n.From(notify.OriginOf(cfg.NotifyTopicARN, cfg.Region))
}
