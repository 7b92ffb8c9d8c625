//! The parts of a Label Studio labelling config (`label_config`, XML) this backend needs: the image tags and
//! the label controls pointing at them. A small tag scanner, not a general XML parser: Label Studio configs are
//! flat tag soup with attributes, and only tag names, attributes and nesting matter here.

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlKind {
    Brush,
    Polygon,
    KeyPoint,
    Rectangle,
}

impl ControlKind {
    fn from_tag(tag: &str) -> Option<Self> {
        match tag.to_ascii_lowercase().as_str() {
            "brushlabels" => Some(ControlKind::Brush),
            "polygonlabels" => Some(ControlKind::Polygon),
            "keypointlabels" => Some(ControlKind::KeyPoint),
            "rectanglelabels" => Some(ControlKind::Rectangle),
            _ => None,
        }
    }

    /// The result `type` and the value key of its labels, as Label Studio names them.
    pub fn result_type(self) -> &'static str {
        match self {
            ControlKind::Brush => "brushlabels",
            ControlKind::Polygon => "polygonlabels",
            ControlKind::KeyPoint => "keypointlabels",
            ControlKind::Rectangle => "rectanglelabels",
        }
    }
}

/// A labels control: `<BrushLabels name="tag" toName="image"><Label value="Cat"/>...</BrushLabels>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    pub kind: ControlKind,
    pub name: String,
    pub to_name: String,
    pub labels: Vec<String>,
}

/// `<Image name="image" value="$image"/>`: the task data key is `value` without its `$`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageTag {
    pub name: String,
    pub data_key: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelConfig {
    pub images: Vec<ImageTag>,
    pub controls: Vec<Control>,
}

impl LabelConfig {
    pub fn parse(xml: &str) -> Result<LabelConfig, ApiError> {
        let mut config = LabelConfig::default();
        let mut open: Option<usize> = None;
        for tag in scan(xml)? {
            match tag {
                Tag::Open { name, attrs, self_closing } => {
                    let attr =
                        |key: &str| attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.clone());
                    if name.eq_ignore_ascii_case("image") {
                        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
                            config.images.push(ImageTag { name: n, data_key: v.trim_start_matches('$').to_string() });
                        }
                    } else if let Some(kind) = ControlKind::from_tag(&name) {
                        let (Some(n), Some(to)) = (attr("name"), attr("toName")) else {
                            return Err(ApiError::bad_request(format!(
                                "label_config: <{name}> needs name and toName attributes"
                            )));
                        };
                        config.controls.push(Control { kind, name: n, to_name: to, labels: Vec::new() });
                        if !self_closing {
                            open = Some(config.controls.len() - 1);
                        }
                    } else if name.eq_ignore_ascii_case("label") {
                        if let (Some(i), Some(v)) = (open, attr("value")) {
                            config.controls[i].labels.push(v);
                        }
                    }
                }
                Tag::Close { name } => {
                    if ControlKind::from_tag(&name).is_some() {
                        open = None;
                    }
                }
            }
        }
        Ok(config)
    }

    pub fn control(&self, name: &str) -> Option<&Control> {
        self.controls.iter().find(|c| c.name == name)
    }

    /// Where masks go for `image` (an Image tag name): its BrushLabels control, else its PolygonLabels one.
    pub fn mask_control(&self, image: &str) -> Option<&Control> {
        let of = |kind| self.controls.iter().find(|c| c.kind == kind && c.to_name == image);
        of(ControlKind::Brush).or_else(|| of(ControlKind::Polygon))
    }

    /// Every BrushLabels/PolygonLabels control, in config order.
    pub fn mask_controls(&self) -> impl Iterator<Item = &Control> {
        self.controls.iter().filter(|c| matches!(c.kind, ControlKind::Brush | ControlKind::Polygon))
    }

    pub fn image(&self, name: &str) -> Option<&ImageTag> {
        self.images.iter().find(|i| i.name == name)
    }
}

enum Tag {
    Open { name: String, attrs: Vec<(String, String)>, self_closing: bool },
    Close { name: String },
}

fn scan(xml: &str) -> Result<Vec<Tag>, ApiError> {
    let bad = |what: &str| ApiError::bad_request(format!("label_config is not well-formed XML: {what}"));
    let mut tags = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        rest = &rest[start..];
        let skip_to = |end: &str| rest.find(end).map(|i| i + end.len());
        if rest.starts_with("<!--") {
            rest = &rest[skip_to("-->").ok_or_else(|| bad("unclosed comment"))?..];
            continue;
        }
        if rest.starts_with("<?") || rest.starts_with("<!") {
            rest = &rest[skip_to(">").ok_or_else(|| bad("unclosed declaration"))?..];
            continue;
        }
        let end = tag_end(rest).ok_or_else(|| bad("unclosed tag"))?;
        let body = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = body.strip_prefix('/') {
            tags.push(Tag::Close { name: name.trim().to_string() });
            continue;
        }
        let self_closing = body.ends_with('/');
        let body = body.trim_end_matches('/');
        let name_end = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
        let name = body[..name_end].to_string();
        if name.is_empty() {
            return Err(bad("a tag without a name"));
        }
        tags.push(Tag::Open { name, attrs: attributes(&body[name_end..]).map_err(|e| bad(&e))?, self_closing });
    }
    Ok(tags)
}

/// The `>` closing the tag at the start of `s`, skipping `>` inside quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn attributes(mut s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Ok(out);
        }
        let eq = s.find('=').ok_or_else(|| format!("attribute {s:?} has no value"))?;
        let key = s[..eq].trim().to_string();
        let value = s[eq + 1..].trim_start();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'').ok_or("unquoted attribute value")?;
        let close = value[1..].find(quote).ok_or("unclosed attribute value")? + 1;
        out.push((key, unescape(&value[1..close])));
        s = &value[close + 1..];
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_controls_of_a_smart_config() {
        let xml = r##"<View>
          <!-- a comment with <Tags> -->
          <Image name="image" value="$image" zoom="true"/>
          <BrushLabels name="tag" toName="image"><Label value="Bus &amp; car" background="#FF0000"/></BrushLabels>
          <KeyPointLabels name="kp" toName="image" smart="true"><Label value="Bus" smart="true"/></KeyPointLabels>
          <Label value="stray"/>
          <RectangleLabels name="rect" toName="image" smart="true"><Label value="Bus"/></RectangleLabels>
        </View>"##;
        let c = LabelConfig::parse(xml).unwrap();
        assert_eq!(c.images, [ImageTag { name: "image".into(), data_key: "image".into() }]);
        assert_eq!(c.controls.len(), 3);
        assert_eq!(c.mask_control("image").unwrap().labels, ["Bus & car"]);
        assert_eq!(c.control("rect").unwrap().kind, ControlKind::Rectangle);
        assert_eq!(c.control("kp").unwrap().labels, ["Bus"]);
    }

    #[test]
    fn malformed_configs_are_clear_errors() {
        assert!(LabelConfig::parse("<View><Image name=\"i\"").unwrap_err().message.contains("unclosed tag"));
        assert!(LabelConfig::parse("<BrushLabels toName=\"i\"/>").unwrap_err().message.contains("name and toName"));
        assert!(LabelConfig::parse("<Image name=i/>").unwrap_err().message.contains("unquoted"));
    }
}
