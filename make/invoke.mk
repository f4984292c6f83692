# Local invocation of one function under the Lambda Runtime Interface
# Emulator, against kumo and the Gong simulator on 127.0.0.1, as sam local
# invoke would run it:
#
#   make invoke FN=ingest EVENT=events/sqs-sync.json
#
# FN is scheduler, ingest, oauth, api or backfill; EVENT is a file under
# events/. The emulator comes from the rie target of the main Makefile.

FN ?=
EVENT ?=

.PHONY: invoke

## invoke: run function FN with event EVENT under the Lambda emulator (FN=ingest EVENT=events/sqs-sync.json)
invoke: rie
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<scheduler|ingest|oauth|api|backfill> EVENT=events/<file>.json"; exit 2; }
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" $(GO) run ./infra/invoke -fn $(FN) -event $(EVENT)
