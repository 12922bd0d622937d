from mqttlab.cli import main

raise SystemExit(main())
