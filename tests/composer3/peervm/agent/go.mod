module composer-kpo.local/peervm

go 1.22
