//! A browser without JavaScript for the web UI tests: forms, one session cookie, redirects
//! not followed.

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};

use crate::harness::TestApp;

/// A browser without JavaScript: one session cookie, redirects not followed (so that each
/// answer can be checked).
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub client: reqwest::Client,
    pub cookie: Option<String>,
}

/// The value of `name="field" value="..."` in a page (HTML-escaped values have no quotes).
pub fn field<'h>(html: &'h str, name: &str) -> Option<&'h str> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let len = html[start..].find('"')?;
    Some(&html[start..start + len])
}

pub fn cookie_of(res: &reqwest::Response, name: &str) -> Option<(String, String)> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let pair = v.split(';').next().unwrap_or_default().to_owned();
            (pair, v.to_owned())
        })
}

pub fn form_body(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        let mut req = self.client.get(self.app.url(path));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    pub async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.text().await.unwrap()
    }

    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(fields));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    pub async fn post_multipart(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let boundary = "preflight-test-boundary-7c1e";
        let mut body = String::new();
        for (name, value) in fields {
            let disposition = if *name == "file" {
                "form-data; name=\"file\"; filename=\"list.md\"
Content-Type: text/markdown"
                    .to_owned()
            } else {
                format!("form-data; name=\"{name}\"")
            };
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let mut req = self
            .client
            .post(self.app.url(path))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    /// Signs in through the form; the answer to the form's POST.
    pub async fn try_sign_in(&mut self, email: &str, password: &str) -> reqwest::Response {
        let res = self.get("/login").await;
        let (login_cookie, _) = cookie_of(&res, "preflight_login").unwrap();
        let html = res.text().await.unwrap();
        let token = field(&html, "token").unwrap().to_owned();
        let res = self
            .client
            .post(self.app.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", login_cookie)
            .body(form_body(&[
                ("email", email),
                ("password", password),
                ("token", &token),
                ("next", ""),
            ]))
            .send()
            .await
            .unwrap();
        if let Some((pair, _)) = cookie_of(&res, "preflight_session") {
            self.cookie = Some(pair);
        }
        res
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) {
        let res = self.try_sign_in(email, password).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[LOCATION], "/services");
    }

    /// The CSRF token of the signed-in session, as its pages carry it.
    pub async fn csrf(&self) -> String {
        let html = self.page("/account").await;
        field(&html, "csrf").unwrap().to_owned()
    }
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()[LOCATION].to_str().unwrap().to_owned()
}
