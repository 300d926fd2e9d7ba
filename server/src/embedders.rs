//! Embedding providers with a transport of their own: an OpenAI-compatible HTTP endpoint, and a
//! local child process speaking JSON lines (for `skillos route` without a server). The
//! `Embedder` boundary they implement is the engine's.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use skillos_engine::dispatch;
use skillos_engine::routing::EmbedderSource;
use skillos_engine::routing::embed::{EmbedKind, Embedder, Error as EmbedError};

use crate::config::{EmbedderKind, RoutingConfig};

/// Where query embeddings come from, as configured; runners need the dispatcher.
pub fn source(config: &RoutingConfig, dispatcher: &dispatch::Service) -> EmbedderSource {
    match config.embedder {
        EmbedderKind::None => EmbedderSource::None,
        EmbedderKind::Runner => EmbedderSource::Runners(dispatcher.clone()),
        EmbedderKind::Openai => EmbedderSource::Fixed(Arc::new(OpenAiEmbedder::new(
            config.openai_url.as_deref().unwrap_or_default(),
            &config.openai_model,
            config.openai_api_key.clone(),
        ))),
    }
}
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::Mutex;

/// Embeddings from an OpenAI-compatible `POST {base}/embeddings` endpoint.
pub struct OpenAiEmbedder {
    client: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<String>,
}

impl OpenAiEmbedder {
    /// `base` is the API root, e.g. `https://api.openai.com/v1`.
    pub fn new(base: &str, model: &str, api_key: Option<String>) -> Self {
        Self {
            client: reqwest::Client::new(),
            url: format!("{}/embeddings", base.trim_end_matches('/')),
            model: model.to_owned(),
            api_key,
        }
    }
}

#[derive(serde::Deserialize)]
struct OpenAiResponse {
    data: Vec<OpenAiEmbedding>,
}

#[derive(serde::Deserialize)]
struct OpenAiEmbedding {
    index: usize,
    embedding: Vec<f32>,
}

#[async_trait::async_trait]
impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    fn max_batch_size(&self) -> usize {
        256
    }

    async fn embed(
        &self,
        texts: &[String],
        _kind: EmbedKind,
        timeout: Duration,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut request = self
            .client
            .post(&self.url)
            .timeout(timeout)
            .json(&serde_json::json!({"model": self.model, "input": texts}));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|error| {
            if error.is_timeout() {
                EmbedError::Timeout
            } else {
                EmbedError::Failed(format!("request failed: {}", without_url(&error)))
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(EmbedError::Failed(format!("HTTP {status}")));
        }
        let mut body: OpenAiResponse = response.json().await.map_err(|error| {
            if error.is_timeout() {
                EmbedError::Timeout
            } else {
                EmbedError::Failed(format!("invalid response: {}", without_url(&error)))
            }
        })?;
        body.data.sort_by_key(|item| item.index);
        if body.data.len() != texts.len()
            || body
                .data
                .iter()
                .enumerate()
                .any(|(i, item)| item.index != i)
        {
            return Err(EmbedError::Failed(format!(
                "{} embeddings for {} texts",
                body.data.len(),
                texts.len()
            )));
        }
        Ok(body.data.into_iter().map(|item| item.embedding).collect())
    }
}

/// reqwest errors print the URL, which may carry credentials; keep only the cause.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

/// A local embedding process speaking JSON lines on stdin/stdout (`skillos-runner embed`):
/// a first line `{"model", "dimension", "max_batch_size"}`, then one answer line
/// `{"id", "vectors"}` or `{"id", "error"}` per request line `{"id", "kind", "texts"}`.
pub struct StdioEmbedder {
    model: String,
    max_batch_size: usize,
    io: Mutex<StdioIo>,
}

struct StdioIo {
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

#[derive(serde::Deserialize)]
struct Hello {
    model: String,
    #[serde(default)]
    max_batch_size: usize,
}

#[derive(serde::Deserialize)]
struct Answer {
    id: Option<u64>,
    vectors: Option<Vec<Vec<f32>>>,
    error: Option<String>,
}

impl StdioEmbedder {
    /// Starts `program args...` and waits (up to `startup`) for its first line.
    pub async fn spawn(
        program: &std::path::Path,
        args: &[&str],
        startup: Duration,
    ) -> Result<Arc<Self>, EmbedError> {
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                EmbedError::Failed(format!("cannot start {}: {error}", program.display()))
            })?;
        let stdin = child.stdin.take().expect("piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
        let first = tokio::time::timeout(startup, stdout.next_line())
            .await
            .map_err(|_| EmbedError::Timeout)?
            .map_err(|error| EmbedError::Failed(error.to_string()))?
            .ok_or_else(|| {
                EmbedError::Failed(format!("{} exited before it was ready", program.display()))
            })?;
        let hello: Hello = serde_json::from_str(&first)
            .map_err(|error| EmbedError::Failed(format!("unexpected first line: {error}")))?;
        Ok(Arc::new(Self {
            model: hello.model,
            max_batch_size: hello.max_batch_size,
            io: Mutex::new(StdioIo {
                _child: child,
                stdin,
                stdout,
                next_id: 0,
            }),
        }))
    }
}

#[async_trait::async_trait]
impl Embedder for StdioEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    fn max_batch_size(&self) -> usize {
        self.max_batch_size
    }

    async fn embed(
        &self,
        texts: &[String],
        kind: EmbedKind,
        timeout: Duration,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut io = self.io.lock().await;
        io.next_id += 1;
        let id = io.next_id;
        let kind = match kind {
            EmbedKind::Query => "query",
            EmbedKind::Document => "document",
        };
        let mut line = serde_json::json!({"id": id, "kind": kind, "texts": texts}).to_string();
        line.push('\n');
        let exchange = async {
            io.stdin.write_all(line.as_bytes()).await?;
            io.stdin.flush().await?;
            loop {
                let Some(line) = io.stdout.next_line().await? else {
                    return Err(std::io::Error::other("the embedder exited"));
                };
                let answer: Answer = serde_json::from_str(&line).map_err(std::io::Error::other)?;
                if answer.id == Some(id) {
                    return Ok(answer);
                }
            }
        };
        let answer = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| EmbedError::Timeout)?
            .map_err(|error| EmbedError::Failed(error.to_string()))?;
        match (answer.vectors, answer.error) {
            (Some(vectors), _) if vectors.len() == texts.len() => Ok(vectors),
            (Some(vectors), _) => Err(EmbedError::Failed(format!(
                "{} vectors for {} texts",
                vectors.len(),
                texts.len()
            ))),
            (None, Some(error)) => Err(EmbedError::Failed(error)),
            (None, None) => Err(EmbedError::Failed("empty answer".to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Json;
    use axum::routing::post;

    /// A stand-in for an OpenAI-compatible API (the real one is not reachable here): answers
    /// with the items in reverse order, as the API allows, and misbehaves on request.
    async fn serve() -> String {
        async fn embeddings(
            Json(body): Json<serde_json::Value>,
        ) -> Result<Json<serde_json::Value>, axum::http::StatusCode> {
            let inputs = body["input"].as_array().cloned().unwrap_or_default();
            let first = inputs.first().and_then(|v| v.as_str()).unwrap_or_default();
            if first == "fail" {
                return Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
            }
            if first == "slow" {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            let data: Vec<serde_json::Value> = inputs
                .iter()
                .enumerate()
                .rev()
                .map(|(index, text)| {
                    let len = text.as_str().unwrap_or_default().len() as f32;
                    serde_json::json!({"index": index, "embedding": [len, 1.0]})
                })
                .collect();
            Ok(Json(
                serde_json::json!({"data": data, "model": body["model"]}),
            ))
        }
        let app = axum::Router::new().route("/v1/embeddings", post(embeddings));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/v1")
    }

    #[tokio::test]
    async fn an_openai_compatible_endpoint_embeds_in_order_and_reports_failures() {
        let base = serve().await;
        let embedder = OpenAiEmbedder::new(&base, "test-model", Some("key".into()));
        assert_eq!(embedder.model(), "test-model");
        let texts = vec!["a".to_owned(), "abc".to_owned()];
        let vectors = embedder
            .embed(&texts, EmbedKind::Query, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(vectors, [vec![1.0, 1.0], vec![3.0, 1.0]]);

        let failed = embedder
            .embed(
                &["fail".to_owned()],
                EmbedKind::Query,
                Duration::from_secs(5),
            )
            .await;
        assert!(matches!(failed, Err(EmbedError::Failed(m)) if m.contains("500")));
        let slow = embedder
            .embed(
                &["slow".to_owned()],
                EmbedKind::Query,
                Duration::from_millis(200),
            )
            .await;
        assert_eq!(slow, Err(EmbedError::Timeout));
        let down = OpenAiEmbedder::new("http://127.0.0.1:9/v1", "m", None)
            .embed(&texts, EmbedKind::Query, Duration::from_secs(5))
            .await;
        assert!(matches!(down, Err(EmbedError::Failed(_))));
    }
}
