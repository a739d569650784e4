# Multi-stage build of the gateway and the bundled plugins. Plugins are pinned by sha256 in
# the config; `smsgw plugin sha256 /usr/lib/smsgw/plugins/<name>` prints the value to use.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build VERSION=docker

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/smsgw --create-home smsgw
COPY --from=build /src/bin/smsgw /usr/bin/smsgw
COPY --from=build /src/bin/plugins/ /usr/lib/smsgw/plugins/
COPY configs/ /etc/smsgw/
USER smsgw
WORKDIR /var/lib/smsgw
EXPOSE 8080
ENTRYPOINT ["/usr/bin/smsgw"]
CMD ["serve", "-config", "/etc/smsgw/smsgw.hcl"]
