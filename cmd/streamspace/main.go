// Command streamspace is the developer CLI of the local stack:
//
//	streamspace run                      bring up the whole system on loopback
//	streamspace token -user alice        print a token for a user (-role admin|operator|user)
//	streamspace invoke NAME -e FILE      invoke a function on an event file (like `sam local invoke`)
//	streamspace recording render -in F   render a gateway recording's last frame (or -at 5s) to PNG
//	streamspace redrive -consumer C -from F  re-feed parked stream records (a file or s3://bucket)
package main

import (
	"fmt"
	"os"
)

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  streamspace run    [-data .local] [-http 127.0.0.1:8080] [-ws 127.0.0.1:8081] [-dynamodb-port 8000]
  streamspace token  -user ID [-role user|operator|admin] [-ttl 12h] [-data .local]
  streamspace invoke FUNCTION -e EVENT.json   (against a running local stack)
  streamspace recording render -in REC.rfb [-out frame.png] [-at 5s]   (default: the last frame)
  streamspace recording info -in REC.rfb
  streamspace redrive -consumer notifier|auditor|runtime -from FILE.jsonl|s3://BUCKET
`)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(os.Args[2:])
	case "token":
		err = tokenCmd(os.Args[2:])
	case "invoke":
		err = invokeCmd(os.Args[2:])
	case "recording":
		err = recordingCmd(os.Args[2:])
	case "redrive":
		err = redriveCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "streamspace:", err)
		os.Exit(1)
	}
}
