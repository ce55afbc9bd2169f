from voice_server.cli import main

raise SystemExit(main())
