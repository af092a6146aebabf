# Signet: one static binary (pure-Go SQLite, no cgo).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/signet ./cmd/signet

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/signet /usr/local/bin/signet
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/signet"]
CMD ["serve"]
