//! The document viewer at `/opac/documents/{id}`: plain HTML and a small script (no CDN)
//! that loads the IIIF manifest and shows the pages with zoom and pan, previous/next,
//! thumbnails, the page's OCR text and a link to the PDF. Vietnamese first; `?lang=en`.

use rong_protocol::fold::fold;

use crate::store::digitise::{Document, TextHit};
use crate::web::html::esc;

const SCRIPT: &str = r#"
(function(){
var root=document.getElementById('viewer'), doc=root.dataset.doc;
var img=document.getElementById('page'), stage=document.getElementById('stage');
var thumbs=document.getElementById('thumbs'), pos=document.getElementById('pos');
var textBox=document.getElementById('text');
var pages=[], cur=0, scale=1, x=0, y=0, drag=null;
function apply(){img.style.transform='translate('+x+'px,'+y+'px) scale('+scale+')';}
function zoom(f){scale=Math.min(8,Math.max(0.25,scale*f));apply();}
function show(i){
  if(i<0||i>=pages.length)return; cur=i; scale=1; x=0; y=0; apply();
  var p=pages[i]; img.src=p.svc+'/full/'+p.view+'/0/default.jpg'; img.alt=p.label;
  pos.textContent=(i+1)+' / '+pages.length;
  Array.prototype.forEach.call(thumbs.children,function(t,j){t.className=j===i?'on':'';});
  if(!textBox.hidden)loadText();
}
function loadText(){fetch('/documents/'+doc+'/text/'+(cur+1)).then(function(r){return r.text();})
  .then(function(t){textBox.textContent=t;});}
fetch('/iiif/'+doc+'/manifest.json').then(function(r){return r.json();}).then(function(m){
  m.items.forEach(function(c,i){
    var body=c.items[0].items[0].body, svc=body.service[0].id;
    var view=c.width>1000?'1000,':'max';
    pages.push({svc:svc,view:view,label:c.label.none[0]});
    var t=document.createElement('img');
    t.src=c.thumbnail[0].id; t.alt=c.label.none[0]; t.loading='lazy';
    t.onclick=function(){show(i);}; thumbs.appendChild(t);
  });
  show(0);
});
document.getElementById('prev').onclick=function(){show(cur-1);};
document.getElementById('next').onclick=function(){show(cur+1);};
document.getElementById('zin').onclick=function(){zoom(1.25);};
document.getElementById('zout').onclick=function(){zoom(0.8);};
document.getElementById('fit').onclick=function(){scale=1;x=0;y=0;apply();};
document.getElementById('showtext').onclick=function(){textBox.hidden=!textBox.hidden;if(!textBox.hidden)loadText();};
stage.addEventListener('wheel',function(e){e.preventDefault();zoom(e.deltaY<0?1.15:0.87);},{passive:false});
stage.addEventListener('pointerdown',function(e){drag={sx:e.clientX-x,sy:e.clientY-y};stage.setPointerCapture(e.pointerId);});
stage.addEventListener('pointermove',function(e){if(drag){x=e.clientX-drag.sx;y=e.clientY-drag.sy;apply();}});
stage.addEventListener('pointerup',function(){drag=null;});
document.addEventListener('keydown',function(e){if(e.key==='ArrowLeft')show(cur-1);if(e.key==='ArrowRight')show(cur+1);});
})();
"#;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#222;color:#eee}\
header{padding:.5rem 1rem;background:#0b5;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}\
header a{color:#fff}h1{font-size:1.2rem;margin:0;flex:1}\
#tools button{min-height:44px;min-width:44px;margin:.2rem;font-size:1rem}\
#stage{height:70vh;overflow:hidden;position:relative;touch-action:none;cursor:grab;background:#111}\
#page{max-width:100%;max-height:100%;display:block;margin:auto;transform-origin:center;user-select:none}\
#thumbs{display:flex;gap:.4rem;overflow-x:auto;padding:.5rem}#thumbs img{height:90px;cursor:pointer;border:3px solid transparent}\
#thumbs img.on{border-color:#0b5}#text{white-space:pre-wrap;background:#fff;color:#000;padding:1rem;margin:.5rem}";

/// The viewer page of a document with `pages` pages.
pub fn page(doc: &Document, pages: usize, english: bool) -> String {
    let (lang, other, switch, prev, next, zin, zout, fit, text, pdf, back, count) = if english {
        (
            "en",
            "vi",
            "Tiếng Việt",
            "Previous",
            "Next",
            "Zoom in",
            "Zoom out",
            "Fit",
            "Text",
            "PDF",
            "Catalogue",
            "pages",
        )
    } else {
        (
            "vi",
            "en",
            "English",
            "Trang trước",
            "Trang sau",
            "Phóng to",
            "Thu nhỏ",
            "Vừa khung",
            "Văn bản",
            "PDF",
            "Tra cứu",
            "trang",
        )
    };
    let id = esc(&doc.id);
    format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body>\
<header><a href=\"/opac?lang={lang}\">{back}</a><h1>{title}</h1><span>{pages} {count}</span>\
<a href=\"/documents/{id}.pdf\" id=\"pdf\">{pdf}</a>\
<a href=\"/opac/documents/{id}?lang={other}\" lang=\"{other}\">{switch}</a></header>\
<main id=\"viewer\" data-doc=\"{id}\"><div id=\"tools\">\
<button id=\"prev\">◀ {prev}</button><span id=\"pos\"></span><button id=\"next\">{next} ▶</button>\
<button id=\"zout\" aria-label=\"{zout}\">−</button><button id=\"zin\" aria-label=\"{zin}\">+</button>\
<button id=\"fit\">{fit}</button><button id=\"showtext\">{text}</button></div>\
<div id=\"stage\"><img id=\"page\" alt=\"\" draggable=\"false\"></div>\
<pre id=\"text\" hidden></pre><nav id=\"thumbs\"></nav></main>\
<script>{SCRIPT}</script></body></html>",
        title = esc(&doc.title),
    )
}

/// Words of context either side of the first matching word in a snippet.
const SNIPPET_WORDS: usize = 10;

/// A short extract of `text` around the first word matching a word of `q` (folded), with
/// the matching words in `<mark>`. Escaped HTML.
pub fn snippet(text: &str, q: &str) -> String {
    let wanted: Vec<String> = fold(q)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let words: Vec<&str> = text.split_whitespace().collect();
    let matches = |w: &str| {
        let f = fold(w);
        !f.is_empty()
            && wanted
                .iter()
                .any(|q| f.split(' ').any(|p| p.starts_with(q.as_str())))
    };
    let first = words.iter().position(|w| matches(w)).unwrap_or(0);
    let from = first.saturating_sub(SNIPPET_WORDS);
    let to = (first + SNIPPET_WORDS + 1).min(words.len());
    let mut out = String::new();
    if from > 0 {
        out.push_str("… ");
    }
    for (i, w) in words[from..to].iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if matches(w) {
            out.push_str(&format!("<mark>{}</mark>", esc(w)));
        } else {
            out.push_str(&esc(w));
        }
    }
    if to < words.len() {
        out.push_str(" …");
    }
    out
}

/// The "digitised documents" section of the catalogue's search page; empty without hits.
pub fn hits_html(english: bool, q: &str, hits: &[TextHit]) -> String {
    if hits.is_empty() {
        return String::new();
    }
    let (heading, page_word, lang) = if english {
        ("Digitised documents", "page", "en")
    } else {
        ("Tài liệu số hoá", "trang", "vi")
    };
    let mut out = format!("<h2 class=\"documents\">{heading}</h2><ol class=\"hits documents\">");
    for h in hits {
        out.push_str(&format!(
            "<li><a class=\"title document\" href=\"/opac/documents/{id}?lang={lang}\">{title}</a>\
             <div class=\"meta\">{page_word} {pos}</div><p class=\"snippet\">{snip}</p></li>",
            id = esc(&h.document),
            title = esc(&h.title),
            pos = h.position,
            snip = snippet(&h.text, q),
        ));
    }
    out.push_str("</ol>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_marks_folded_matches_and_escapes() {
        let s = snippet("Lịch sử <b> Địa chí Kon Tum năm 1990", "dia chi");
        assert!(s.contains("<mark>Địa</mark> <mark>chí</mark>"), "{s}");
        assert!(s.contains("&lt;b&gt;"), "{s}");
    }

    #[test]
    fn hits_link_to_the_viewer() {
        let h = TextHit {
            document: "d1".into(),
            title: "Địa chí".into(),
            position: 3,
            text: "Kon Tum".into(),
        };
        let html = hits_html(false, "kon", &[h]);
        assert!(
            html.contains("href=\"/opac/documents/d1?lang=vi\""),
            "{html}"
        );
        assert!(html.contains("trang 3"));
        assert!(hits_html(true, "kon", &[]).is_empty());
    }
}
